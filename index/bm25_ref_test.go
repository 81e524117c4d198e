package index

// The BM25 index as it was before the compact layout (one struct per
// posting, a map per document's metadata, gob persistence), kept as the
// oracle the compact index must match score for score, and as the writer
// of the old file format that LoadBM25 must still read.

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
)

// refBM25 is an inverted index scored with Okapi refBM25. Documents can be added,
// replaced and deleted at any time; searches run concurrently with writes
// (tokenization, the slow part of a write, happens outside the lock).
type refBM25 struct {
	params BM25Params
	tok    Tokenizer

	mu       sync.RWMutex
	terms    map[string]uint32 // term → term number
	postings [][]refPosting    // by term number; doc numbers ascending
	docs     []refBM25Doc      // by doc number
	byID     map[string]uint32
	live     int   // documents not deleted
	totalLen int64 // sum of live document lengths
	dead     int   // deleted documents still in postings

	accPool sync.Pool
}

type refPosting struct {
	Doc uint32
	TF  uint32
}

type refBM25Doc struct {
	ID    string
	Len   int32
	Alive bool
	Meta  map[string]string
}

// newRefBM25 returns an empty index. tok nil uses DefaultAnalyzer.
func newRefBM25(p BM25Params, tok Tokenizer) *refBM25 {
	if tok == nil {
		tok = DefaultAnalyzer().Tokens
	}
	return &refBM25{params: p, tok: tok, terms: map[string]uint32{}, byID: map[string]uint32{}}
}

// Len returns the number of live documents.
func (x *refBM25) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Add indexes one document, replacing any document with the same ID.
func (x *refBM25) Add(d Doc) { x.AddBatch([]Doc{d}) }

// AddBatch indexes documents, tokenizing them in parallel first.
func (x *refBM25) AddBatch(docs []Doc) {
	tfs := make([]map[string]uint32, len(docs))
	lens := make([]int32, len(docs))
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)/8))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(docs); i += workers {
				toks := x.tok(docs[i].Text)
				tf := make(map[string]uint32, len(toks))
				for _, t := range toks {
					tf[t]++
				}
				tfs[i], lens[i] = tf, int32(len(toks))
			}
		}()
	}
	wg.Wait()

	x.mu.Lock()
	defer x.mu.Unlock()
	for i, d := range docs {
		if old, ok := x.byID[d.ID]; ok {
			x.deleteLocked(old)
		}
		n := uint32(len(x.docs))
		x.docs = append(x.docs, refBM25Doc{ID: d.ID, Len: lens[i], Alive: true, Meta: d.Meta})
		x.byID[d.ID] = n
		x.live++
		x.totalLen += int64(lens[i])
		for t, f := range tfs[i] {
			tn, ok := x.terms[t]
			if !ok {
				tn = uint32(len(x.postings))
				x.terms[t] = tn
				x.postings = append(x.postings, nil)
			}
			x.postings[tn] = append(x.postings[tn], refPosting{n, f})
		}
	}
	x.maybeCompactLocked()
}

// Delete removes the document with this ID; it reports whether one existed.
func (x *refBM25) Delete(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	n, ok := x.byID[id]
	if !ok {
		return false
	}
	x.deleteLocked(n)
	x.maybeCompactLocked()
	return true
}

func (x *refBM25) deleteLocked(n uint32) {
	d := &x.docs[n]
	d.Alive = false
	d.Meta = nil
	delete(x.byID, d.ID)
	x.live--
	x.dead++
	x.totalLen -= int64(d.Len)
}

// maybeCompactLocked rewrites the postings without deleted documents once
// they make up a quarter of the index, so deletes cost O(1) each and
// searches never scan much dead weight.
func (x *refBM25) maybeCompactLocked() {
	if x.dead < 64 || x.dead*4 < len(x.docs) {
		return
	}
	renum := make([]uint32, len(x.docs))
	var docs []refBM25Doc
	for i, d := range x.docs {
		if d.Alive {
			renum[i] = uint32(len(docs))
			docs = append(docs, d)
		}
	}
	terms := map[string]uint32{}
	var postings [][]refPosting
	for t, tn := range x.terms {
		var kept []refPosting
		for _, p := range x.postings[tn] {
			if x.docs[p.Doc].Alive {
				kept = append(kept, refPosting{renum[p.Doc], p.TF})
			}
		}
		if len(kept) > 0 {
			terms[t] = uint32(len(postings))
			postings = append(postings, kept)
		}
	}
	x.docs, x.terms, x.postings, x.dead = docs, terms, postings, 0
	for i, d := range x.docs {
		x.byID[d.ID] = uint32(i)
	}
}

// Search returns the k best documents for query that pass filter.
func (x *refBM25) Search(query string, k int, filter Filter) []Hit {
	qterms := uniqueTerms(x.tok(query))
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.live == 0 || k <= 0 {
		return nil
	}
	acc := x.getAcc()
	defer x.accPool.Put(acc)
	avgdl := float64(x.totalLen) / float64(x.live)
	k1, b := x.params.K1, x.params.B
	n := float64(x.live)
	for _, t := range qterms {
		tn, ok := x.terms[t]
		if !ok {
			continue
		}
		plist := x.postings[tn]
		df := len(plist)
		if x.dead > 0 {
			df = 0
			for _, p := range plist {
				if x.docs[p.Doc].Alive {
					df++
				}
			}
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
		for _, p := range plist {
			d := &x.docs[p.Doc]
			if !d.Alive {
				continue
			}
			tf := float64(p.TF)
			s := idf * tf * (k1 + 1) / (tf + k1*(1-b+b*float64(d.Len)/avgdl))
			acc.add(p.Doc, s)
		}
	}
	top := newTopK(k)
	for _, dn := range acc.touched {
		if filter != nil && !filter(x.docs[dn].Meta) {
			continue
		}
		top.push(dn, acc.score[dn])
	}
	out := make([]Hit, 0, k)
	for _, s := range top.sorted() {
		d := x.docs[s.doc]
		out = append(out, Hit{ID: d.ID, Score: s.score, Meta: d.Meta})
	}
	return out
}

// The accumulator and uniqueTerms are the compact index's own: they are
// plumbing, not the scoring under test.

func (x *refBM25) getAcc() *accumulator {
	a, _ := x.accPool.Get().(*accumulator)
	if a == nil {
		a = &accumulator{}
	}
	for _, d := range a.touched {
		a.score[d] = 0
	}
	a.touched = a.touched[:0]
	if len(a.score) < len(x.docs) {
		a.score = make([]float64, len(x.docs))
	}
	return a
}

// refBM25File is the saved form of a refBM25 index.
type refBM25File struct {
	Params   BM25Params
	Terms    []string
	Postings [][]refPosting
	Docs     []refBM25Doc
}

// Save writes the index (without its tokenizer) to w.
func (x *refBM25) Save(w io.Writer) error {
	x.mu.RLock()
	f := refBM25File{Params: x.params, Terms: make([]string, len(x.postings)), Postings: x.postings, Docs: x.docs}
	for t, tn := range x.terms {
		f.Terms[tn] = t
	}
	err := writeChecked(w, "bm25", &f)
	x.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("save bm25 index: %w", err)
	}
	return nil
}
