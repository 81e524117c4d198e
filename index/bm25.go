package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
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
//
// The layout is compact because a knowledge base holds it in memory whole:
// each term's postings are one byte slice of varint (document gap, term
// frequency) pairs, mostly two bytes a posting instead of a struct of
// eight; per-document fields are parallel slices; the documents of one
// file share one interned metadata map; term strings are copied out of
// the tokenizer's buffers, so an index never keeps a document's text
// alive.
type BM25 struct {
	params BM25Params
	tok    Tokenizer

	mu       sync.RWMutex
	terms    map[string]uint32 // term → term number
	postings [][]byte          // by term number: packed postings, doc numbers ascending (see appendPosting)
	df       []uint32          // by term number: postings in the list (dead documents included until compaction)
	last     []uint32          // by term number: doc number of the last posting
	ids      []string          // by doc number
	lens     []int32           // by doc number: tokens, or ^tokens (negative) once deleted
	metaOf   []uint32          // by doc number: number in metas
	metas    metaTable
	byID     map[string]uint32
	live     int   // documents not deleted
	totalLen int64 // sum of live document lengths
	dead     int   // deleted documents still in postings

	gen uint64 // counts compactions, which renumber terms

	accPool sync.Pool
}

// appendPosting packs one posting: uvarint(gap<<1 | tf≠1), then uvarint(tf)
// when tf≠1. Most terms occur once in a chunk, so most postings are the
// gap alone.
func appendPosting(pl []byte, gap, tf uint32) []byte {
	v := uint64(gap) << 1
	if tf != 1 {
		v |= 1
	}
	pl = binary.AppendUvarint(pl, v)
	if tf != 1 {
		pl = binary.AppendUvarint(pl, uint64(tf))
	}
	return pl
}

// nextPosting decodes the posting at pl[i:] after document doc, returning
// its document, term frequency and the offset of the next posting.
func nextPosting(pl []byte, i int, doc uint32) (uint32, uint32, int) {
	var v uint64
	if b := pl[i]; b < 0x80 {
		v, i = uint64(b), i+1
	} else {
		var n int
		v, n = binary.Uvarint(pl[i:])
		i += n
	}
	doc += uint32(v >> 1)
	tf := uint32(1)
	if v&1 != 0 {
		if b := pl[i]; b < 0x80 {
			tf, i = uint32(b), i+1
		} else {
			t, n := binary.Uvarint(pl[i:])
			tf, i = uint32(t), i+n
		}
	}
	return doc, tf, i
}

// uvarintAt decodes the varint at pl[i:], returning it and the offset
// after it.
func uvarintAt(pl []byte, i int) (uint64, int) {
	v, n := binary.Uvarint(pl[i:])
	return v, i + n
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

// termFreq is one distinct term of a document, its count, and its term
// number as looked up before the write lock (noTerm: not yet indexed).
type termFreq struct {
	term string
	tf   uint32
	tn   uint32
}

const noTerm = math.MaxUint32

// AddBatch indexes documents, tokenizing them in parallel first.
func (x *BM25) AddBatch(docs []Doc) {
	tfs := make([][]termFreq, len(docs))
	lens := make([]int32, len(docs))
	gens := make([]uint64, len(docs))
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)/8))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			count := map[string]int{} // term → index in the document's list, reused
			for i := w; i < len(docs); i += workers {
				toks := x.tok(docs[i].Text)
				clear(count)
				var list []termFreq
				for _, t := range toks {
					if j, ok := count[t]; ok {
						list[j].tf++
						continue
					}
					count[t] = len(list)
					list = append(list, termFreq{t, 1, noTerm})
				}
				// The term lookups (a random access each into a map of
				// every term) run here, in parallel and under the read
				// lock, rather than one by one under the write lock.
				x.mu.RLock()
				for j := range list {
					if tn, ok := x.terms[list[j].term]; ok {
						list[j].tn = tn
					}
				}
				gens[i] = x.gen
				x.mu.RUnlock()
				tfs[i], lens[i] = list, int32(len(toks))
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
		n := uint32(len(x.ids))
		x.ids = append(x.ids, d.ID)
		x.lens = append(x.lens, lens[i])
		x.metaOf = append(x.metaOf, x.metas.intern(d.Meta))
		x.byID[d.ID] = n
		x.live++
		x.totalLen += int64(lens[i])
		stale := gens[i] != x.gen // a compaction renumbered the terms since
		for _, e := range tfs[i] {
			tn, ok := e.tn, e.tn != noTerm && !stale
			if !ok {
				tn, ok = x.terms[e.term]
			}
			if !ok {
				tn = uint32(len(x.postings))
				// A copy: the token may be a slice of the document's
				// text or of the segmenter's buffers.
				x.terms[strings.Clone(e.term)] = tn
				x.postings = append(x.postings, nil)
				x.df = append(x.df, 0)
				x.last = append(x.last, 0)
			}
			x.postings[tn] = appendPosting(x.postings[tn], n-x.last[tn], e.tf)
			x.df[tn]++
			x.last[tn] = n
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
	x.lens[n] = ^x.lens[n]
	x.metaOf[n] = 0
	delete(x.byID, x.ids[n])
	x.live--
	x.dead++
	x.totalLen -= int64(^x.lens[n])
}

// live reports whether document n is not deleted. The flag lives in the
// sign of its length, so scoring a posting reads one array, not two.
func (x *BM25) isLive(n uint32) bool { return x.lens[n] >= 0 }

// maybeCompactLocked rewrites the postings without deleted documents once
// they make up a quarter of the index, so deletes cost O(1) each and
// searches never scan much dead weight. Live documents keep their order,
// so ties still rank the earlier document first.
func (x *BM25) maybeCompactLocked() {
	if x.dead < 64 || x.dead*4 < len(x.ids) {
		return
	}
	renum := make([]uint32, len(x.ids))
	w := uint32(0)
	for i := range x.lens {
		if x.isLive(uint32(i)) {
			renum[i] = w
			w++
		}
	}
	terms := make(map[string]uint32, len(x.terms))
	var postings [][]byte
	var df, last []uint32
	for t, tn := range x.terms {
		var kept []byte
		var k, prev uint32
		pl := x.postings[tn]
		for i, doc := 0, uint32(0); i < len(pl); {
			var tf uint32
			doc, tf, i = nextPosting(pl, i, doc)
			if x.isLive(doc) {
				nd := renum[doc]
				kept = appendPosting(kept, nd-prev, tf)
				prev = nd
				k++
			}
		}
		if k > 0 {
			terms[t] = uint32(len(postings))
			postings = append(postings, kept)
			df = append(df, k)
			last = append(last, prev)
		}
	}
	var metas metaTable
	for i := range x.lens {
		if x.isLive(uint32(i)) {
			n := renum[i]
			x.ids[n], x.lens[n] = x.ids[i], x.lens[i]
			x.metaOf[n] = metas.intern(x.metas.get(x.metaOf[i]))
		}
	}
	clear(x.ids[w:])
	x.ids, x.lens, x.metaOf = x.ids[:w:w], x.lens[:w:w], x.metaOf[:w:w]
	x.terms, x.postings, x.df, x.last, x.metas, x.dead = terms, postings, df, last, metas, 0
	x.gen++
	for i, id := range x.ids {
		x.byID[id] = uint32(i)
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
		pl := x.postings[tn]
		df := int(x.df[tn])
		if x.dead > 0 {
			df = 0
			for i, doc := 0, uint32(0); i < len(pl); {
				doc, _, i = nextPosting(pl, i, doc)
				if x.isLive(doc) {
					df++
				}
			}
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
		// nextPosting, inlined by hand: this loop is the query's cost.
		for i, doc := 0, uint32(0); i < len(pl); {
			v := uint64(pl[i])
			i++
			if v >= 0x80 {
				v, i = uvarintAt(pl, i-1)
			}
			doc += uint32(v >> 1)
			f := uint64(1)
			if v&1 != 0 {
				f = uint64(pl[i])
				i++
				if f >= 0x80 {
					f, i = uvarintAt(pl, i-1)
				}
			}
			dl := x.lens[doc]
			if dl < 0 {
				continue
			}
			tf := float64(f)
			s := idf * tf * (k1 + 1) / (tf + k1*(1-b+b*float64(dl)/avgdl))
			acc.add(doc, s)
		}
	}
	top := newTopK(k)
	for _, dn := range acc.touched {
		if filter != nil && !filter(x.metas.get(x.metaOf[dn])) {
			continue
		}
		top.push(dn, acc.score[dn])
	}
	out := make([]Hit, 0, k)
	for _, s := range top.sorted() {
		out = append(out, Hit{ID: x.ids[s.doc], Score: s.score, Meta: x.metas.get(x.metaOf[s.doc])})
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
	if len(a.score) < len(x.ids) {
		a.score = make([]float64, len(x.ids))
	}
	return a
}

// File kinds: bm25v2 is the streamed compact layout Save writes; bm25 the
// gob frame of the earlier layout, which LoadBM25 still reads.
const (
	bm25Kind   = "bm25v2"
	bm25KindV1 = "bm25"
)

// Save writes the index (without its tokenizer) to w as one streamed
// frame: parameters, documents, interned metadata, then each term with
// its packed postings as they are held in memory.
func (x *BM25) Save(w io.Writer) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	fw := newFrameWriter(w, bm25Kind)
	fw.float64(x.params.K1)
	fw.float64(x.params.B)
	fw.uvarint(uint64(len(x.ids)))
	for i, id := range x.ids {
		fw.string(id)
		dl, alive := x.lens[i], uint64(1)
		if dl < 0 {
			dl, alive = ^dl, 0
		}
		fw.uvarint(uint64(uint32(dl)))
		fw.uvarint(alive)
		fw.uvarint(uint64(x.metaOf[i]))
	}
	x.metas.save(fw)
	fw.uvarint(uint64(len(x.postings)))
	terms := make([]string, len(x.postings))
	for t, tn := range x.terms {
		terms[tn] = t
	}
	for tn, t := range terms {
		fw.string(t)
		fw.uvarint(uint64(x.df[tn]))
		fw.uvarint(uint64(x.last[tn]))
		fw.bytes(x.postings[tn])
	}
	if err := fw.finish(); err != nil {
		return fmt.Errorf("save bm25 index: %w", err)
	}
	return nil
}

// LoadBM25 reads an index written by Save, in the current layout or the
// earlier gob one; tok must be the tokenizer it was built with (nil for
// DefaultAnalyzer). Given a *bufio.Reader it reads exactly the index's
// bytes, so other data may follow.
func LoadBM25(r io.Reader, tok Tokenizer) (*BM25, error) {
	br := bufReader(r)
	kind, err := readFrameKind(br)
	if err != nil {
		return nil, fmt.Errorf("load bm25 index: %w", err)
	}
	var x *BM25
	switch kind {
	case bm25Kind:
		x, err = loadBM25v2(br, tok)
	case bm25KindV1:
		x, err = loadBM25v1(br, tok)
	default:
		err = fmt.Errorf("%w: a %q file, not a bm25 index", ErrCorrupt, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("load bm25 index: %w", err)
	}
	x.byID = make(map[string]uint32, len(x.ids))
	for i, id := range x.ids {
		if x.isLive(uint32(i)) {
			x.byID[id] = uint32(i)
			x.live++
			x.totalLen += int64(x.lens[i])
		} else {
			x.dead++
		}
	}
	return x, nil
}

func loadBM25v2(br *bufio.Reader, tok Tokenizer) (*BM25, error) {
	fr := &frameReader{r: br}
	var p BM25Params
	p.K1 = fr.float64()
	p.B = fr.float64()
	x := NewBM25(p, tok)
	n := fr.count(math.MaxUint32)
	for i := 0; i < n && fr.err == nil; i++ {
		x.ids = append(x.ids, fr.string())
		dl := int32(uint32(fr.uvarint()))
		if fr.uvarint() != 1 {
			dl = ^dl
		}
		x.lens = append(x.lens, dl)
		x.metaOf = append(x.metaOf, uint32(fr.uvarint()))
	}
	x.metas = *loadMetaTable(fr)
	nt := fr.count(math.MaxUint32)
	// Sized up front: growing maps of a million entries rehashes them
	// again and again.
	x.terms = make(map[string]uint32, min(nt, 1<<24))
	for tn := 0; tn < nt && fr.err == nil; tn++ {
		t := fr.string()
		x.terms[t] = uint32(tn)
		x.df = append(x.df, uint32(fr.uvarint()))
		x.last = append(x.last, uint32(fr.uvarint()))
		x.postings = append(x.postings, fr.bytes())
	}
	if err := fr.finish(); err != nil {
		return nil, err
	}
	if len(x.terms) != len(x.postings) {
		return nil, fmt.Errorf("%w: %d distinct terms for %d posting lists", ErrCorrupt, len(x.terms), len(x.postings))
	}
	for i, m := range x.metaOf {
		if int(m) >= len(x.metas.maps) && m != 0 {
			return nil, fmt.Errorf("%w: document %d names metadata %d of %d", ErrCorrupt, i, m, len(x.metas.maps))
		}
	}
	// Every list must decode to ascending documents that exist, ending at
	// last after df postings: Search decodes without checking.
	for t, tn := range x.terms {
		if err := x.checkPostings(tn); err != nil {
			return nil, fmt.Errorf("%w: term %q: %v", ErrCorrupt, t, err)
		}
	}
	return x, nil
}

func (x *BM25) checkPostings(tn uint32) error {
	pl := x.postings[tn]
	var k uint32
	doc, n := uint64(0), uint64(len(x.ids))
	for i := 0; i < len(pl); k++ {
		// Postings are mostly one-byte varints: decode those inline.
		v := uint64(pl[i])
		if v < 0x80 {
			i++
		} else {
			var w int
			if v, w = binary.Uvarint(pl[i:]); w <= 0 {
				return fmt.Errorf("bad varint at byte %d", i)
			}
			i += w
		}
		if k > 0 && v>>1 == 0 {
			return fmt.Errorf("posting %d repeats document %d", k, doc)
		}
		if doc += v >> 1; v>>1 >= n || doc >= n {
			return fmt.Errorf("posting %d names a document past %d", k, n)
		}
		if v&1 != 0 {
			if i >= len(pl) {
				return fmt.Errorf("posting %d lacks its term frequency", k)
			}
			if pl[i] < 0x80 {
				i++
			} else if _, w := binary.Uvarint(pl[i:]); w <= 0 {
				return fmt.Errorf("bad varint at byte %d", i)
			} else {
				i += w
			}
		}
	}
	if k != x.df[tn] || (k > 0 && uint32(doc) != x.last[tn]) {
		return fmt.Errorf("%d postings ending at document %d, recorded %d ending at %d", k, doc, x.df[tn], x.last[tn])
	}
	return nil
}

// bm25FileV1 is the gob form of the earlier layout (field names are what
// gob matches).
type bm25FileV1 struct {
	Params   BM25Params
	Terms    []string
	Postings [][]struct{ Doc, TF uint32 }
	Docs     []struct {
		ID    string
		Len   int32
		Alive bool
		Meta  map[string]string
	}
}

// loadBM25v1 reads the earlier layout into the compact one; the next Save
// writes the current format.
func loadBM25v1(br *bufio.Reader, tok Tokenizer) (*BM25, error) {
	var f bm25FileV1
	if err := readCheckedBody(br, &f); err != nil {
		return nil, err
	}
	if len(f.Terms) != len(f.Postings) {
		return nil, fmt.Errorf("%d terms but %d posting lists", len(f.Terms), len(f.Postings))
	}
	x := NewBM25(f.Params, tok)
	for _, d := range f.Docs {
		x.ids = append(x.ids, d.ID)
		dl := d.Len
		if !d.Alive {
			dl = ^dl
		}
		x.lens = append(x.lens, dl)
		x.metaOf = append(x.metaOf, x.metas.intern(d.Meta))
	}
	for tn, pl := range f.Postings {
		var packed []byte
		var prev uint32
		for k, p := range pl {
			if int(p.Doc) >= len(x.ids) || (k > 0 && p.Doc <= prev) {
				return nil, fmt.Errorf("%w: posting of term %q names document %d of %d", ErrCorrupt, f.Terms[tn], p.Doc, len(x.ids))
			}
			packed = appendPosting(packed, p.Doc-prev, p.TF)
			prev = p.Doc
		}
		x.terms[f.Terms[tn]] = uint32(tn)
		x.postings = append(x.postings, packed)
		x.df = append(x.df, uint32(len(pl)))
		x.last = append(x.last, prev)
		f.Postings[tn] = nil
	}
	return x, nil
}
