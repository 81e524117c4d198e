package train

import (
	"fmt"
	"math"
)

// ParamSet is a set of named tensors held in one flat []float32, llm.c
// style: the optimizer, gradient clipping and checkpointing each walk Data
// in one loop, while the model reads named views into it.
type ParamSet struct {
	Names   []string
	Shapes  [][]int
	Offsets []int // Offsets[i] is where Names[i] starts in Data
	Data    []float32
	index   map[string]int
}

// NewParamSet allocates a zeroed set with the given names and shapes.
func NewParamSet(names []string, shapes [][]int) *ParamSet {
	p := &ParamSet{Names: names, Shapes: shapes, index: make(map[string]int, len(names))}
	n := 0
	for i, name := range names {
		p.index[name] = i
		p.Offsets = append(p.Offsets, n)
		n += numel(shapes[i])
	}
	p.Data = make([]float32, n)
	return p
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Like returns a zeroed set with the same layout (for gradients and the
// optimizer's moments).
func (p *ParamSet) Like() *ParamSet { return NewParamSet(p.Names, p.Shapes) }

// Has reports whether name is in the set.
func (p *ParamSet) Has(name string) bool { _, ok := p.index[name]; return ok }

// Get returns the view of the named tensor, or nil when absent.
func (p *ParamSet) Get(name string) []float32 {
	i, ok := p.index[name]
	if !ok {
		return nil
	}
	return p.Data[p.Offsets[i] : p.Offsets[i]+numel(p.Shapes[i])]
}

// Shape returns the named tensor's shape, or nil when absent.
func (p *ParamSet) Shape(name string) []int {
	i, ok := p.index[name]
	if !ok {
		return nil
	}
	return p.Shapes[i]
}

// Zero clears every value.
func (p *ParamSet) Zero() { clear(p.Data) }

// Norm returns the L2 norm of all values, accumulated in float64.
func (p *ParamSet) Norm() float64 {
	var s float64
	for _, v := range p.Data {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// sameLayout reports whether q has p's names and shapes.
func (p *ParamSet) sameLayout(q *ParamSet) error {
	if len(p.Names) != len(q.Names) {
		return fmt.Errorf("%d tensors, want %d", len(q.Names), len(p.Names))
	}
	for i, n := range p.Names {
		if q.Names[i] != n || fmt.Sprint(q.Shapes[i]) != fmt.Sprint(p.Shapes[i]) {
			return fmt.Errorf("tensor %d is %s %v, want %s %v", i, q.Names[i], q.Shapes[i], n, p.Shapes[i])
		}
	}
	return nil
}
