package index

import (
	"container/heap"
	"sort"
)

// Hit is one search result. Higher Score is better; scores from different
// indexes are not comparable (fuse them with RRF or RelativeScoreFusion).
type Hit struct {
	ID    string
	Score float64
	Meta  map[string]string
}

// Filter reports whether a document with this metadata may be returned.
// A nil Filter admits everything.
type Filter func(meta map[string]string) bool

// MetaEquals returns a Filter that admits documents whose metadata has
// every key of want with the same value.
func MetaEquals(want map[string]string) Filter {
	return func(meta map[string]string) bool {
		for k, v := range want {
			if meta[k] != v {
				return false
			}
		}
		return true
	}
}

// scored is an internal (document number, score) pair.
type scored struct {
	doc   uint32
	score float64
}

// topK keeps the k best scores seen so far in a min-heap, so selecting
// from n candidates costs O(n log k) and k entries of memory.
type topK struct {
	k int
	h minHeap
}

func newTopK(k int) *topK { return &topK{k: k, h: make(minHeap, 0, k)} }

// better orders by score, then by lower document number, so equal scores
// rank deterministically (earlier documents first).
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.doc < b.doc
}

func (t *topK) push(doc uint32, score float64) {
	s := scored{doc, score}
	if len(t.h) < t.k {
		heap.Push(&t.h, s)
		return
	}
	if t.k > 0 && better(s, t.h[0]) {
		t.h[0] = s
		heap.Fix(&t.h, 0)
	}
}

// full reports whether k entries are held; then worst is the k-th best.
func (t *topK) full() bool { return len(t.h) >= t.k }

func (t *topK) worst() scored { return t.h[0] }

// sorted returns the kept entries best first.
func (t *topK) sorted() []scored {
	out := append([]scored(nil), t.h...)
	sort.Slice(out, func(i, j int) bool { return better(out[i], out[j]) })
	return out
}

type minHeap []scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
