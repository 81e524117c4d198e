package index

import (
	"container/heap"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"ragtune/tensor"
)

// HNSWConfig are the parameters of a hierarchical navigable small-world
// graph (Malkov & Yashunin). M is the number of links per node on upper
// layers (2M on layer 0); EfConstruction is the candidate-list size while
// inserting, EfSearch while querying; Seed makes level assignment, and so
// the whole graph, deterministic for a given insertion order.
type HNSWConfig struct {
	M              int
	EfConstruction int
	EfSearch       int
	Seed           uint64
}

// DefaultHNSWConfig suits real embeddings, which cluster. Uniform random
// 384-d vectors, the worst case, need EfSearch near 800 for recall@10 ≥ 0.98
// at 10k vectors (vector_test.go; docs/BENCHMARKS.md has the 100k sweep).
var DefaultHNSWConfig = HNSWConfig{M: 16, EfConstruction: 200, EfSearch: 128, Seed: 1}

// HNSW is an approximate nearest-neighbour index over normalized vectors
// (similarity = dot product). Deleted vectors become tombstones: they keep
// routing searches through the graph but are never returned, so a delete
// never disconnects the graph. Searches run concurrently; inserts are
// serialized.
type HNSW struct {
	cfg HNSWConfig
	dim int
	ml  float64 // level multiplier 1/ln(M)

	mu       sync.RWMutex
	rng      *rand.PCG
	vecs     []float32 // (n, dim)
	nodes    []hnswNode
	byID     map[string]uint32
	entry    int32 // -1 when empty
	maxLevel int
	dead     int

	visitedPool sync.Pool
}

type hnswNode struct {
	ID      string
	Meta    map[string]string
	Links   [][]uint32 // Links[l]: neighbours on layer l, l ≤ node level
	Deleted bool
}

// NewHNSW returns an empty graph for vectors of length dim.
func NewHNSW(dim int, cfg HNSWConfig) *HNSW {
	if cfg.M < 2 {
		cfg.M = DefaultHNSWConfig.M
	}
	if cfg.EfConstruction < cfg.M {
		cfg.EfConstruction = max(cfg.M, DefaultHNSWConfig.EfConstruction)
	}
	if cfg.EfSearch <= 0 {
		cfg.EfSearch = DefaultHNSWConfig.EfSearch
	}
	return &HNSW{
		cfg: cfg, dim: dim, ml: 1 / math.Log(float64(cfg.M)),
		rng: rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15), byID: map[string]uint32{}, entry: -1,
	}
}

// Dim returns the vector length.
func (h *HNSW) Dim() int { return h.dim }

// Len returns the number of live vectors.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.nodes) - h.dead
}

// SetEfSearch changes the query-time candidate list size.
func (h *HNSW) SetEfSearch(ef int) {
	h.mu.Lock()
	h.cfg.EfSearch = ef
	h.mu.Unlock()
}

func (h *HNSW) vec(n uint32) []float32 {
	return h.vecs[int(n)*h.dim : int(n+1)*h.dim]
}

// cand is a graph node with its similarity to the current query.
type cand struct {
	node uint32
	sim  float32
}

// maxSims pops the most similar first; minSims the least similar first.
type maxSims []cand
type minSims []cand

func (s maxSims) Len() int           { return len(s) }
func (s maxSims) Less(i, j int) bool { return s[i].sim > s[j].sim }
func (s maxSims) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *maxSims) Push(x any)        { *s = append(*s, x.(cand)) }
func (s *maxSims) Pop() any          { o := *s; x := o[len(o)-1]; *s = o[:len(o)-1]; return x }
func (s minSims) Len() int           { return len(s) }
func (s minSims) Less(i, j int) bool { return s[i].sim < s[j].sim }
func (s minSims) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *minSims) Push(x any)        { *s = append(*s, x.(cand)) }
func (s *minSims) Pop() any          { o := *s; x := o[len(o)-1]; *s = o[:len(o)-1]; return x }

// visited marks nodes seen by one search; a generation counter makes
// clearing free between searches.
type visited struct {
	gen  uint32
	mark []uint32
}

func (h *HNSW) getVisited() *visited {
	v, _ := h.visitedPool.Get().(*visited)
	if v == nil {
		v = &visited{}
	}
	if len(v.mark) < len(h.nodes) {
		v.mark = make([]uint32, len(h.nodes)+len(h.nodes)/4+16)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.mark)
		v.gen = 1
	}
	return v
}

// searchLayer returns up to ef nodes of layer l closest to q, found by
// best-first expansion from the entry points.
func (h *HNSW) searchLayer(q []float32, eps []cand, ef, l int, vis *visited) []cand {
	var candidates maxSims
	var results minSims
	for _, e := range eps {
		vis.mark[e.node] = vis.gen
		candidates = append(candidates, e)
		results = append(results, e)
	}
	heap.Init(&candidates)
	heap.Init(&results)
	for len(results) > ef {
		heap.Pop(&results)
	}
	for candidates.Len() > 0 {
		c := heap.Pop(&candidates).(cand)
		if results.Len() >= ef && c.sim < results[0].sim {
			break
		}
		for _, nb := range h.nodes[c.node].Links[l] {
			if vis.mark[nb] == vis.gen {
				continue
			}
			vis.mark[nb] = vis.gen
			s := tensor.Dot(q, h.vec(nb))
			if results.Len() < ef || s > results[0].sim {
				heap.Push(&candidates, cand{nb, s})
				heap.Push(&results, cand{nb, s})
				if results.Len() > ef {
					heap.Pop(&results)
				}
			}
		}
	}
	out := []cand(results)
	sort.Slice(out, func(i, j int) bool { return out[i].sim > out[j].sim })
	return out
}

// selectNeighbors keeps up to m candidates (sorted best first) by the
// HNSW heuristic: a candidate is kept only if it is closer to the base
// than to every neighbour kept so far, which spreads links in different
// directions and keeps clusters connected. Leftover slots are filled with
// the best pruned candidates.
func (h *HNSW) selectNeighbors(cands []cand, m int) []uint32 {
	out := make([]uint32, 0, m)
	var pruned []uint32
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		good := true
		cv := h.vec(c.node)
		for _, o := range out {
			if tensor.Dot(cv, h.vec(o)) > c.sim {
				good = false
				break
			}
		}
		if good {
			out = append(out, c.node)
		} else {
			pruned = append(pruned, c.node)
		}
	}
	for _, p := range pruned {
		if len(out) >= m {
			break
		}
		out = append(out, p)
	}
	return out
}

func (h *HNSW) maxLinks(l int) int {
	if l == 0 {
		return 2 * h.cfg.M
	}
	return h.cfg.M
}

// Add inserts a copy of vec (normalized) under id. Re-adding an id
// tombstones the old node and inserts a new one.
func (h *HNSW) Add(id string, vec []float32, meta map[string]string) error {
	if len(vec) != h.dim {
		return fmt.Errorf("hnsw index: vector for %q has %d dimensions, index has %d", id, len(vec), h.dim)
	}
	v := append([]float32(nil), vec...)
	if !Normalize(v) {
		return fmt.Errorf("hnsw index: vector for %q is zero or not finite", id)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.byID[id]; ok {
		h.nodes[old].Deleted = true
		h.nodes[old].Meta = nil
		h.dead++
	}
	level := int(math.Floor(-math.Log(1-float64(h.rng.Uint64()>>11)/(1<<53)) * h.ml))
	n := uint32(len(h.nodes))
	h.nodes = append(h.nodes, hnswNode{ID: id, Meta: meta, Links: make([][]uint32, level+1)})
	h.vecs = append(h.vecs, v...)
	h.byID[id] = n
	if h.entry < 0 {
		h.entry, h.maxLevel = int32(n), level
		return nil
	}
	vis := h.getVisited()
	defer h.visitedPool.Put(vis)
	ep := []cand{{uint32(h.entry), tensor.Dot(v, h.vec(uint32(h.entry)))}}
	for l := h.maxLevel; l > level; l-- {
		ep = h.greedy(v, ep[0], l)
	}
	for l := min(level, h.maxLevel); l >= 0; l-- {
		vis.gen++
		if vis.gen == 0 {
			clear(vis.mark)
			vis.gen = 1
		}
		found := h.searchLayer(v, ep, h.cfg.EfConstruction, l, vis)
		nbs := h.selectNeighbors(found, h.cfg.M)
		h.nodes[n].Links[l] = nbs
		for _, nb := range nbs {
			h.link(nb, n, l)
		}
		ep = found
	}
	if level > h.maxLevel {
		h.entry, h.maxLevel = int32(n), level
	}
	return nil
}

// link adds a back-link nb → n on layer l, pruning nb's list with the
// heuristic when it overflows.
func (h *HNSW) link(nb, n uint32, l int) {
	links := append(h.nodes[nb].Links[l], n)
	if len(links) <= h.maxLinks(l) {
		h.nodes[nb].Links[l] = links
		return
	}
	base := h.vec(nb)
	cs := make([]cand, len(links))
	for i, o := range links {
		cs[i] = cand{o, tensor.Dot(base, h.vec(o))}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].sim > cs[j].sim })
	h.nodes[nb].Links[l] = h.selectNeighbors(cs, h.maxLinks(l))
}

// greedy walks layer l from ep to a local optimum for q.
func (h *HNSW) greedy(q []float32, ep cand, l int) []cand {
	for changed := true; changed; {
		changed = false
		for _, nb := range h.nodes[ep.node].Links[l] {
			if s := tensor.Dot(q, h.vec(nb)); s > ep.sim {
				ep, changed = cand{nb, s}, true
			}
		}
	}
	return []cand{ep}
}

// Delete tombstones id; it reports whether it was present.
func (h *HNSW) Delete(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.byID[id]
	if !ok {
		return false
	}
	delete(h.byID, id)
	h.nodes[n].Deleted = true
	h.nodes[n].Meta = nil
	h.dead++
	return true
}

// Search returns up to k live vectors most similar to query that pass
// filter. When tombstones or the filter leave fewer than k results in the
// candidate list, it widens the list, and finally scans exactly.
func (h *HNSW) Search(query []float32, k int, filter Filter) ([]Hit, error) {
	if len(query) != h.dim {
		return nil, fmt.Errorf("hnsw index: query has %d dimensions, index has %d", len(query), h.dim)
	}
	q := append([]float32(nil), query...)
	if !Normalize(q) {
		return nil, fmt.Errorf("hnsw index: query vector is zero or not finite")
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if k <= 0 || h.entry < 0 {
		return nil, nil
	}
	live := len(h.nodes) - h.dead
	for ef := max(h.cfg.EfSearch, k); ; ef *= 4 {
		if ef >= live {
			return h.scan(q, k, filter), nil
		}
		vis := h.getVisited()
		ep := []cand{{uint32(h.entry), tensor.Dot(q, h.vec(uint32(h.entry)))}}
		for l := h.maxLevel; l > 0; l-- {
			ep = h.greedy(q, ep[0], l)
		}
		found := h.searchLayer(q, ep, ef, 0, vis)
		h.visitedPool.Put(vis)
		out := make([]Hit, 0, k)
		for _, c := range found {
			nd := &h.nodes[c.node]
			if nd.Deleted || (filter != nil && !filter(nd.Meta)) {
				continue
			}
			out = append(out, Hit{ID: nd.ID, Score: float64(c.sim), Meta: nd.Meta})
			if len(out) == k {
				return out, nil
			}
		}
		if len(out) >= live {
			return out, nil
		}
	}
}

// scan is the exact fallback for tiny or heavily filtered searches.
func (h *HNSW) scan(q []float32, k int, filter Filter) []Hit {
	t := newTopK(k)
	for i := range h.nodes {
		nd := &h.nodes[i]
		if nd.Deleted || (filter != nil && !filter(nd.Meta)) {
			continue
		}
		t.push(uint32(i), float64(tensor.Dot(q, h.vec(uint32(i)))))
	}
	out := make([]Hit, 0, k)
	for _, s := range t.sorted() {
		out = append(out, Hit{ID: h.nodes[s.doc].ID, Score: s.score, Meta: h.nodes[s.doc].Meta})
	}
	return out
}

type hnswFile struct {
	Cfg      HNSWConfig
	Dim      int
	RNG      []byte
	Vecs     []float32
	Nodes    []hnswNode
	Entry    int32
	MaxLevel int
}

// Save writes the graph to w, including the random state, so inserts after
// Load continue the same deterministic sequence.
func (h *HNSW) Save(w io.Writer) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	rng, err := h.rng.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save hnsw index: %w", err)
	}
	f := hnswFile{h.cfg, h.dim, rng, h.vecs, h.nodes, h.entry, h.maxLevel}
	if err := writeChecked(w, "hnsw", &f); err != nil {
		return fmt.Errorf("save hnsw index: %w", err)
	}
	return nil
}

// LoadHNSW reads a graph written by Save.
func LoadHNSW(r io.Reader) (*HNSW, error) {
	var f hnswFile
	if err := readChecked(r, "hnsw", &f); err != nil {
		return nil, fmt.Errorf("load hnsw index: %w", err)
	}
	n := len(f.Nodes)
	if f.Dim <= 0 || len(f.Vecs) != n*f.Dim || int(f.Entry) >= n || (n > 0 && f.Entry < 0) {
		return nil, fmt.Errorf("load hnsw index: %w: inconsistent sizes", ErrCorrupt)
	}
	h := NewHNSW(f.Dim, f.Cfg)
	if err := h.rng.UnmarshalBinary(f.RNG); err != nil {
		return nil, fmt.Errorf("load hnsw index: %w: random state: %v", ErrCorrupt, err)
	}
	h.vecs, h.nodes, h.entry, h.maxLevel = f.Vecs, f.Nodes, f.Entry, f.MaxLevel
	for i := range h.nodes {
		nd := &h.nodes[i]
		for _, links := range nd.Links {
			for _, nb := range links {
				if int(nb) >= n {
					return nil, fmt.Errorf("load hnsw index: %w: node %d links to %d of %d", ErrCorrupt, i, nb, n)
				}
			}
		}
		if nd.Deleted {
			h.dead++
		} else {
			h.byID[nd.ID] = uint32(i)
		}
	}
	return h, nil
}
