package index

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
)

// BM25Params are the Okapi BM25 constants: K1 controls how quickly term
// frequency saturates, B how strongly long documents are penalized.
type BM25Params struct {
	K1 float64
	B  float64
}

// DefaultBM25Params are the Lucene/Elasticsearch defaults.
var DefaultBM25Params = BM25Params{K1: 1.2, B: 0.75}

// Doc is a text document to index.
type Doc struct {
	ID   string
	Text string
	Meta map[string]string
}

// BM25 is an inverted index scored with Okapi BM25. Documents can be added,
// replaced and deleted at any time; searches run concurrently with writes
// (tokenization, the slow part of a write, happens outside the lock).
type BM25 struct {
	params BM25Params
	tok    Tokenizer

	mu       sync.RWMutex
	terms    map[string]uint32 // term → term number
	postings [][]posting       // by term number; doc numbers ascending
	docs     []bm25Doc         // by doc number
	byID     map[string]uint32
	live     int   // documents not deleted
	totalLen int64 // sum of live document lengths
	dead     int   // deleted documents still in postings

	accPool sync.Pool
}

type posting struct {
	Doc uint32
	TF  uint32
}

type bm25Doc struct {
	ID    string
	Len   int32
	Alive bool
	Meta  map[string]string
}

// NewBM25 returns an empty index. tok nil uses DefaultAnalyzer.
func NewBM25(p BM25Params, tok Tokenizer) *BM25 {
	if tok == nil {
		tok = DefaultAnalyzer().Tokens
	}
	return &BM25{params: p, tok: tok, terms: map[string]uint32{}, byID: map[string]uint32{}}
}

// Len returns the number of live documents.
func (x *BM25) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Add indexes one document, replacing any document with the same ID.
func (x *BM25) Add(d Doc) { x.AddBatch([]Doc{d}) }

// AddBatch indexes documents, tokenizing them in parallel first.
func (x *BM25) AddBatch(docs []Doc) {
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
		x.docs = append(x.docs, bm25Doc{ID: d.ID, Len: lens[i], Alive: true, Meta: d.Meta})
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
			x.postings[tn] = append(x.postings[tn], posting{n, f})
		}
	}
	x.maybeCompactLocked()
}

// Delete removes the document with this ID; it reports whether one existed.
func (x *BM25) Delete(id string) bool {
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

func (x *BM25) deleteLocked(n uint32) {
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
func (x *BM25) maybeCompactLocked() {
	if x.dead < 64 || x.dead*4 < len(x.docs) {
		return
	}
	renum := make([]uint32, len(x.docs))
	var docs []bm25Doc
	for i, d := range x.docs {
		if d.Alive {
			renum[i] = uint32(len(docs))
			docs = append(docs, d)
		}
	}
	terms := map[string]uint32{}
	var postings [][]posting
	for t, tn := range x.terms {
		var kept []posting
		for _, p := range x.postings[tn] {
			if x.docs[p.Doc].Alive {
				kept = append(kept, posting{renum[p.Doc], p.TF})
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
func (x *BM25) Search(query string, k int, filter Filter) []Hit {
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

func uniqueTerms(toks []string) []string {
	seen := make(map[string]bool, len(toks))
	out := toks[:0:0]
	for _, t := range toks {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// accumulator holds per-document scores for one query; pooled so a query
// allocates nothing proportional to the corpus.
type accumulator struct {
	score   []float64
	touched []uint32
}

func (a *accumulator) add(doc uint32, s float64) {
	if a.score[doc] == 0 {
		a.touched = append(a.touched, doc)
	}
	a.score[doc] += s
}

func (x *BM25) getAcc() *accumulator {
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

// bm25File is the saved form of a BM25 index.
type bm25File struct {
	Params   BM25Params
	Terms    []string
	Postings [][]posting
	Docs     []bm25Doc
}

// Save writes the index (without its tokenizer) to w.
func (x *BM25) Save(w io.Writer) error {
	x.mu.RLock()
	f := bm25File{Params: x.params, Terms: make([]string, len(x.postings)), Postings: x.postings, Docs: x.docs}
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

// LoadBM25 reads an index written by Save; tok must be the tokenizer it
// was built with (nil for DefaultAnalyzer).
func LoadBM25(r io.Reader, tok Tokenizer) (*BM25, error) {
	var f bm25File
	if err := readChecked(r, "bm25", &f); err != nil {
		return nil, fmt.Errorf("load bm25 index: %w", err)
	}
	if len(f.Terms) != len(f.Postings) {
		return nil, fmt.Errorf("load bm25 index: %d terms but %d posting lists", len(f.Terms), len(f.Postings))
	}
	x := NewBM25(f.Params, tok)
	x.postings, x.docs = f.Postings, f.Docs
	for tn, t := range f.Terms {
		x.terms[t] = uint32(tn)
	}
	for tn, pl := range x.postings {
		for _, p := range pl {
			if int(p.Doc) >= len(x.docs) {
				return nil, fmt.Errorf("load bm25 index: posting of term %q names document %d of %d", f.Terms[tn], p.Doc, len(x.docs))
			}
		}
	}
	for i, d := range x.docs {
		if d.Alive {
			x.byID[d.ID] = uint32(i)
			x.live++
			x.totalLen += int64(d.Len)
		} else {
			x.dead++
		}
	}
	return x, nil
}
