package index

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"

	"ragtune/tensor"
)

// Normalize scales v to unit L2 length in place and reports false for a
// zero (or non-finite) vector, which cannot be searched by cosine.
func Normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return false
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return true
}

// Flat is exact vector search: every query is compared with every stored
// vector. Vectors are normalized on insert, so the score is the cosine
// similarity computed as a dot product. It is the reference HNSW is
// measured against and the right choice below a few hundred thousand
// vectors, where a scan costs milliseconds.
type Flat struct {
	dim int

	mu     sync.RWMutex
	vecs   []float32 // (n, dim), row i belongs to ids[i]
	ids    []string
	metaOf []uint32 // row → number in metas (a file's chunks share one map)
	metas  metaTable
	alive  []bool
	byID   map[string]int
	dead   int
}

// NewFlat returns an empty index for vectors of length dim.
func NewFlat(dim int) *Flat { return &Flat{dim: dim, byID: map[string]int{}} }

// Dim returns the vector length.
func (f *Flat) Dim() int { return f.dim }

// Len returns the number of live vectors.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.ids) - f.dead
}

// Add stores a copy of vec (normalized) under id, replacing any previous
// vector with that id.
func (f *Flat) Add(id string, vec []float32, meta map[string]string) error {
	if len(vec) != f.dim {
		return fmt.Errorf("flat index: vector for %q has %d dimensions, index has %d", id, len(vec), f.dim)
	}
	v := append([]float32(nil), vec...)
	if !Normalize(v) {
		return fmt.Errorf("flat index: vector for %q is zero or not finite", id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.byID[id]; ok {
		f.deleteLocked(old)
	}
	f.byID[id] = len(f.ids)
	f.ids = append(f.ids, id)
	f.metaOf = append(f.metaOf, f.metas.intern(meta))
	f.alive = append(f.alive, true)
	f.vecs = append(f.vecs, v...)
	f.maybeCompactLocked()
	return nil
}

// Delete removes id; it reports whether it was present.
func (f *Flat) Delete(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.byID[id]
	if !ok {
		return false
	}
	f.deleteLocked(n)
	f.maybeCompactLocked()
	return true
}

func (f *Flat) deleteLocked(n int) {
	f.alive[n] = false
	f.metaOf[n] = 0
	delete(f.byID, f.ids[n])
	f.dead++
}

func (f *Flat) maybeCompactLocked() {
	if f.dead < 64 || f.dead*4 < len(f.ids) {
		return
	}
	w := 0
	var metas metaTable
	for r := range f.ids {
		if !f.alive[r] {
			continue
		}
		copy(f.vecs[w*f.dim:(w+1)*f.dim], f.vecs[r*f.dim:(r+1)*f.dim])
		f.ids[w], f.metaOf[w], f.alive[w] = f.ids[r], metas.intern(f.metas.get(f.metaOf[r])), true
		f.byID[f.ids[w]] = w
		w++
	}
	clear(f.ids[w:])
	f.vecs, f.ids, f.metaOf, f.alive, f.metas, f.dead = f.vecs[:w*f.dim], f.ids[:w], f.metaOf[:w], f.alive[:w], metas, 0
}

// Search returns the k stored vectors most similar to query (which need
// not be normalized) that pass filter, best first.
func (f *Flat) Search(query []float32, k int, filter Filter) ([]Hit, error) {
	if len(query) != f.dim {
		return nil, fmt.Errorf("flat index: query has %d dimensions, index has %d", len(query), f.dim)
	}
	q := append([]float32(nil), query...)
	if !Normalize(q) {
		return nil, fmt.Errorf("flat index: query vector is zero or not finite")
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := len(f.ids)
	if k <= 0 || n == 0 {
		return nil, nil
	}
	// Split rows over workers, each with its own heap, then merge: the
	// scan is memory bound and one core rarely saturates the bus.
	workers := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	tops := make([]*topK, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := newTopK(k)
			for i := lo; i < hi; i++ {
				if !f.alive[i] || (filter != nil && !filter(f.metas.get(f.metaOf[i]))) {
					continue
				}
				s := float64(tensor.Dot(q, f.vecs[i*f.dim:(i+1)*f.dim]))
				if t.full() && s < t.worst().score {
					continue
				}
				t.push(uint32(i), s)
			}
			tops[w] = t
		}()
	}
	wg.Wait()
	all := newTopK(k)
	for _, t := range tops {
		for _, s := range t.h {
			all.push(s.doc, s.score)
		}
	}
	out := make([]Hit, 0, k)
	for _, s := range all.sorted() {
		out = append(out, Hit{ID: f.ids[s.doc], Score: s.score, Meta: f.metas.get(f.metaOf[s.doc])})
	}
	return out, nil
}

// ShareIDs makes f's ids the very strings x holds for the same ids, so two
// indexes over the same chunks, loaded from their files, keep each id
// once (as they do when built from the same Doc IDs).
func (f *Flat) ShareIDs(x *BM25) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, id := range f.ids {
		n, ok := x.byID[id]
		if !ok {
			continue
		}
		f.ids[i] = x.ids[n]
		if f.alive[i] {
			// Assigning to an existing key replaces the stored key too.
			f.byID[f.ids[i]] = i
		}
	}
}

// File kinds: flatv2 is the streamed layout Save writes; flat the gob
// frame of the earlier one (metadata per row), which LoadFlat still reads.
const (
	flatKind   = "flatv2"
	flatKindV1 = "flat"
)

// Save writes the index to w as one streamed frame: dimension, rows (id,
// liveness, metadata number), the interned metadata, then the vectors'
// raw bits.
func (f *Flat) Save(w io.Writer) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fw := newFrameWriter(w, flatKind)
	fw.uvarint(uint64(f.dim))
	fw.uvarint(uint64(len(f.ids)))
	for i, id := range f.ids {
		fw.string(id)
		alive := uint64(0)
		if f.alive[i] {
			alive = 1
		}
		fw.uvarint(alive)
		fw.uvarint(uint64(f.metaOf[i]))
	}
	f.metas.save(fw)
	fw.float32s(f.vecs)
	if err := fw.finish(); err != nil {
		return fmt.Errorf("save flat index: %w", err)
	}
	return nil
}

// LoadFlat reads an index written by Save, in the current layout or the
// earlier gob one. Given a *bufio.Reader it reads exactly the index's
// bytes, so other data may follow.
func LoadFlat(r io.Reader) (*Flat, error) {
	br := bufReader(r)
	kind, err := readFrameKind(br)
	if err != nil {
		return nil, fmt.Errorf("load flat index: %w", err)
	}
	var f *Flat
	switch kind {
	case flatKind:
		f, err = loadFlatV2(br)
	case flatKindV1:
		f, err = loadFlatV1(br)
	default:
		err = fmt.Errorf("%w: a %q file, not a flat index", ErrCorrupt, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("load flat index: %w", err)
	}
	f.byID = make(map[string]int, len(f.ids))
	for i, id := range f.ids {
		if f.alive[i] {
			f.byID[id] = i
		} else {
			f.dead++
		}
	}
	return f, nil
}

func loadFlatV2(br *bufio.Reader) (*Flat, error) {
	fr := &frameReader{r: br}
	dim := fr.count(1 << 20)
	n := fr.count(math.MaxUint32)
	f := NewFlat(dim)
	for i := 0; i < n && fr.err == nil; i++ {
		f.ids = append(f.ids, fr.string())
		f.alive = append(f.alive, fr.uvarint() == 1)
		f.metaOf = append(f.metaOf, uint32(fr.uvarint()))
	}
	f.metas = *loadMetaTable(fr)
	f.vecs = fr.float32s(n * dim)
	if err := fr.finish(); err != nil {
		return nil, err
	}
	if dim <= 0 || len(f.vecs) != n*dim {
		return nil, fmt.Errorf("%w: inconsistent sizes", ErrCorrupt)
	}
	for i, m := range f.metaOf {
		if int(m) >= len(f.metas.maps) {
			return nil, fmt.Errorf("%w: row %d names metadata %d of %d", ErrCorrupt, i, m, len(f.metas.maps))
		}
	}
	return f, nil
}

// flatFileV1 is the gob form of the earlier layout.
type flatFileV1 struct {
	Dim   int
	Vecs  []float32
	IDs   []string
	Meta  []map[string]string
	Alive []bool
}

func loadFlatV1(br *bufio.Reader) (*Flat, error) {
	var ff flatFileV1
	if err := readCheckedBody(br, &ff); err != nil {
		return nil, err
	}
	if ff.Dim <= 0 || len(ff.Vecs) != len(ff.IDs)*ff.Dim || len(ff.Meta) != len(ff.IDs) || len(ff.Alive) != len(ff.IDs) {
		return nil, fmt.Errorf("%w: inconsistent sizes", ErrCorrupt)
	}
	f := NewFlat(ff.Dim)
	f.vecs, f.ids, f.alive = ff.Vecs, ff.IDs, ff.Alive
	f.metaOf = make([]uint32, len(ff.IDs))
	for i, m := range ff.Meta {
		f.metaOf[i] = f.metas.intern(m)
	}
	return f, nil
}
