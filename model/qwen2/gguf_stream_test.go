package qwen2

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"ragtune/quant"
	"ragtune/weights"
)

// producingSource stands for a quantizing source: each Tensor call makes
// a fresh copy on the heap, and records how many bytes of the GGUF had
// been written when it was asked.
type producingSource struct {
	weights.Source
	written *int64  // the writer's progress so far
	asked   []int64 // *written at each Tensor call
	names   []string
}

func (p *producingSource) PlanTensor(name string) (weights.DType, []int, error) {
	t, err := p.Source.Tensor(name)
	if err != nil {
		return 0, nil, err
	}
	return t.DType, t.Shape, nil
}

func (p *producingSource) Tensor(name string) (*weights.Tensor, error) {
	t, err := p.Source.Tensor(name)
	if err != nil {
		return nil, err
	}
	p.asked = append(p.asked, *p.written)
	p.names = append(p.names, name)
	return &weights.Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Data: bytes.Clone(t.Data)}, nil
}

// A source that makes its tensors (quantize) is asked for each one only
// while the writer writes it, after the one before is written, so memory
// holds one made tensor and not the whole model; the file is the same
// bytes as from the plain source.
func TestWriteGGUFAsksPlannerWhileWriting(t *testing.T) {
	for _, preset := range []string{"tiny", "tiny-llama"} { // llama: q/k rows permuted
		t.Run(preset, func(t *testing.T) {
			cfg, err := Preset(preset)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := InitWith(dir, cfg, 7, InitOptions{}); err != nil {
				t.Fatal(err)
			}
			src, c, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			plain := filepath.Join(t.TempDir(), "plain.gguf")
			if err := WriteGGUF(plain, src, c, GGUFOptions{Type: KeepType}); err != nil {
				t.Fatal(err)
			}
			var written int64
			ps := &producingSource{Source: src, written: &written}
			made := filepath.Join(t.TempDir(), "made.gguf")
			opts := GGUFOptions{Type: KeepType, Progress: func(done, _ int64) { written = done }}
			if err := WriteGGUF(made, ps, c, opts); err != nil {
				t.Fatal(err)
			}
			specs := Tensors(c)
			if len(ps.asked) != len(specs) {
				t.Fatalf("source asked %d times for %d tensors: %v", len(ps.asked), len(specs), ps.names)
			}
			for i := 1; i < len(ps.asked); i++ {
				if ps.asked[i] <= ps.asked[i-1] {
					t.Fatalf("%s was asked for with %d bytes written, as %s before it: two made tensors held at once", ps.names[i], ps.asked[i], ps.names[i-1])
				}
			}
			a, err := os.ReadFile(plain)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(made)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("GGUF from the planning source differs from the plain one (%d vs %d bytes)", len(b), len(a))
			}
		})
	}
}

// A planning source whose tensor is not what it planned fails the write
// instead of writing a file whose header lies.
func TestWriteGGUFPlannerMismatch(t *testing.T) {
	cfg, _ := Preset("tiny")
	dir := t.TempDir()
	if err := InitWith(dir, cfg, 7, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	src, c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bad := &lyingPlanner{Source: src}
	err = WriteGGUF(filepath.Join(t.TempDir(), "x.gguf"), bad, c, GGUFOptions{Type: KeepType})
	if err == nil {
		t.Fatal("no error for a tensor whose type differs from its plan")
	}
	t.Log(err)
}

type lyingPlanner struct{ weights.Source }

func (l *lyingPlanner) PlanTensor(name string) (weights.DType, []int, error) {
	t, err := l.Source.Tensor(name)
	if err != nil {
		return 0, nil, err
	}
	if len(t.Shape) == 2 {
		return weights.F16, t.Shape, nil // the model is F32
	}
	return t.DType, t.Shape, nil
}

// Quantize hands WriteGGUF its plan, so it quantizes while writing.
var _ tensorPlanner = (*quantizingSource)(nil)

// releaseRecorder is a mapped source that records which bytes of base
// were released, in order.
type releaseRecorder struct {
	weights.Source
	base     []byte
	released [][2]int // [offset, length] into base
}

func (r *releaseRecorder) ReleasePages(t *weights.Tensor) {
	off := int(uintptr(unsafe.Pointer(&t.Data[0])) - uintptr(unsafe.Pointer(&r.base[0])))
	r.released = append(r.released, [2]int{off, len(t.Data)})
}

// checkInOrder fails unless the releases cover base once, front to back.
func (r *releaseRecorder) checkInOrder(t *testing.T, what string) {
	t.Helper()
	next := 0
	for _, rl := range r.released {
		if rl[0] != next {
			t.Fatalf("%s: released %v after %d bytes: slabs out of order or skipped", what, rl, next)
		}
		next += rl[1]
	}
	if next != len(r.base) {
		t.Errorf("%s: released %d of %d bytes", what, next, len(r.base))
	}
}

// randBF16 is rows×cols normal values encoded as BF16.
func randBF16(t *testing.T, r *rand.Rand, rows, cols int) []byte {
	t.Helper()
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	b, err := weights.EncodeFloat32(weights.BF16, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Quantizing slab by slab gives the bytes of one whole-tensor call, for
// block, K-quant and importance-weighted types, and hands every slab's
// source bytes back, in order, once each.
func TestQuantizeInSlabs(t *testing.T) {
	const rows, cols = 301, 512
	r := rand.New(rand.NewPCG(1, 2))
	data := randBF16(t, r, rows, cols)
	qw := make([]float32, cols)
	for i := range qw {
		qw[i] = float32(r.Float64() + 0.1)
	}
	src := &weights.Tensor{Name: "model.embed_tokens.weight", DType: weights.BF16, Shape: []int{rows, cols}, Data: data}
	for _, c := range []struct {
		to weights.DType
		qw []float32
	}{{weights.Q4_0, nil}, {weights.Q4_K, nil}, {weights.Q6_K, nil}, {weights.Q4_K, qw}, {weights.Q8_0, nil}} {
		want, err := quant.QuantizeTensorWeighted(src, c.to, c.qw, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := &releaseRecorder{base: data}
		var done int
		got, err := quantizeInSlabs(rec, src, c.to, c.qw, func(n int) { done += n }, 7*cols*2) // 7 rows a slab
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s (importance weights %v): slabs give other bytes than one call", c.to, c.qw != nil)
		}
		if done != rows*cols {
			t.Errorf("%s: progress told of %d values, want %d", c.to, done, rows*cols)
		}
		if n := (rows + 6) / 7; len(rec.released) != n {
			t.Fatalf("%s: %d releases, want one per slab (%d)", c.to, len(rec.released), n)
		}
		rec.checkInOrder(t, c.to.String())
	}
}

// Converting slab by slab writes what one quant.WriteAs call writes, for
// float and block sources and 1-D tensors, and hands back every slab of a
// matrix's source bytes in order.
func TestWriteAsInSlabs(t *testing.T) {
	const rows, cols = 301, 256
	r := rand.New(rand.NewPCG(3, 4))
	bf := randBF16(t, r, rows, cols)
	mat := &weights.Tensor{Name: "w", DType: weights.BF16, Shape: []int{rows, cols}, Data: bf}
	q4, err := quant.QuantizeTensorWeighted(mat, weights.Q4_0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t      *weights.Tensor
		to     weights.DType
		slabs  int
		rowLen int
	}{
		{mat, weights.F32, (rows + 6) / 7, cols * 2},
		{mat, weights.F16, (rows + 6) / 7, cols * 2},
		{&weights.Tensor{Name: "q", DType: weights.Q4_0, Shape: []int{rows, cols}, Data: q4}, weights.BF16, (rows + 6) / 7, cols / 32 * 18},
		{&weights.Tensor{Name: "norm", DType: weights.BF16, Shape: []int{cols}, Data: bf[:2*cols]}, weights.F32, 1, 0},
	} {
		var want, got bytes.Buffer
		if err := quant.WriteAs(&want, c.t, c.to); err != nil {
			t.Fatal(err)
		}
		rec := &releaseRecorder{base: c.t.Data}
		if err := writeAsInSlabs(&got, rec, c.t, c.to, 7*c.rowLen); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s %s → %s: slabs write other bytes than one call", c.t.Name, c.t.DType, c.to)
		}
		if len(rec.released) != c.slabs {
			t.Errorf("%s: %d releases, want %d", c.t.Name, len(rec.released), c.slabs)
		}
		rec.checkInOrder(t, c.t.Name)
	}
}
