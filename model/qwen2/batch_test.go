package qwen2

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/weights"
)

// quantModel is the tiny model with Q8_0 projections in the tile layout
// (through the Go reference tiles where this CPU has no tile kernels).
func quantModel(t *testing.T, seed uint64) *Model { return quantModelType(t, seed, weights.Q8_0) }

func quantModelType(t *testing.T, seed uint64, dt weights.DType) *Model {
	t.Helper()
	if !quant.PackedAvailable() {
		restore, err := quant.UseKernels("go-tiles")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(restore)
	}
	cfg := tinyConfig(t)
	cfg.VocabSize = 96
	src := memSource{}
	for name, tn := range randomSource(cfg, seed, weights.F32) {
		if len(tn.Shape) != 2 {
			src[name] = tn
			continue
		}
		vals := make([]float32, tn.NumElements())
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(tn.Data[4*i:]))
		}
		rb, err := quant.RowBytes(dt, tn.Shape[1])
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, tn.Shape[0]*rb)
		if _, err := quant.Quantize(dt, buf, vals); err != nil {
			t.Fatal(err)
		}
		src[name] = &weights.Tensor{Name: name, DType: dt, Shape: tn.Shape, Data: buf}
	}
	m := newTestModel(t, cfg, src, WithMatrixLoader(quant.Loader(DefaultMatrix)))
	if _, ok := m.layers[0].wo.(*quant.Packed); !ok {
		t.Fatalf("projection is %T, want the tile layout", m.layers[0].wo)
	}
	return m
}

// batchScript is what one sequence runs in each step of a batched test:
// nil when it sits the step out (not joined yet, or gone), else its tokens.
type batchScript [][]int

// TestBatchMatchesAlone runs several sequences through Batch steps —
// prompts of different lengths prefilled in chunks while others decode,
// sequences joining late and leaving early — and checks every logits
// vector bit for bit against the same sequence run alone through
// State.Forward with the same chunks.
func TestBatchMatchesAlone(t *testing.T) {
	for _, dt := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		t.Run(dt.String(), func(t *testing.T) { testBatchMatchesAlone(t, quantModelType(t, 41, dt)) })
	}
}

func testBatchMatchesAlone(t *testing.T, m *Model) {
	V := m.VocabSize()
	tok := func(seed uint64, n int) []int { return testTokens(n, V, seed) }
	// Each decode step feeds a fixed token (sampling is not under test);
	// a chunk's logits are compared when it is the last of its prompt or a
	// decode token.
	scripts := []batchScript{
		{tok(1, 7), tok(2, 1), tok(3, 1), tok(4, 1), tok(5, 1), tok(6, 1), tok(7, 1)},
		{nil, tok(8, 5), tok(9, 5), tok(10, 1), tok(11, 1), tok(12, 1)}, // joins at step 1, prefills in two chunks
		{tok(13, 1), tok(14, 1), tok(15, 1), nil, nil, nil, nil},        // leaves after step 2
		{nil, nil, nil, tok(16, 12), tok(17, 1), tok(18, 1), tok(19, 1)},
		{tok(20, 3), tok(21, 1), nil, tok(22, 1), tok(23, 2), tok(24, 1), tok(25, 1)}, // pauses a step
	}
	for _, kv := range []tensor.KVType{tensor.KVF32, tensor.KVF16, tensor.KVQ8} {
		t.Run(kv.String(), func(t *testing.T) {
			// Alone: each sequence's chunks through its own State.
			want := make([][][]float32, len(scripts))
			for i, sc := range scripts {
				s := m.NewStateKV(64, kv)
				for _, toks := range sc {
					if toks == nil {
						want[i] = append(want[i], nil)
						continue
					}
					lg, err := s.Forward(toks)
					if err != nil {
						t.Fatal(err)
					}
					want[i] = append(want[i], append([]float32(nil), lg...))
				}
			}
			b := m.NewBatch(32, len(scripts))
			states := make([]*State, len(scripts))
			for i := range states {
				states[i] = m.NewStateKV(64, kv)
			}
			for step := 0; step < 7; step++ {
				idx := make([]int, len(scripts))
				for i, sc := range scripts {
					idx[i] = -1
					if step < len(sc) && sc[step] != nil {
						var err error
						if idx[i], err = b.Add(states[i], sc[step], true); err != nil {
							t.Fatal(err)
						}
					}
				}
				b.Run()
				for i := range scripts {
					if idx[i] < 0 {
						continue
					}
					got, w := b.Logits(idx[i]), want[i][step]
					for j := range w {
						if got[j] != w[j] {
							t.Fatalf("step %d, sequence %d: logit %d batched %g, alone %g", step, i, j, got[j], w[j])
						}
					}
				}
			}
		})
	}
}

// TestBatchPrefixCopy: a State that copies another's first n tokens and
// runs the rest gives the logits of running the whole prompt itself with
// the same chunks.
func TestBatchPrefixCopy(t *testing.T) {
	m := quantModel(t, 43)
	toks := testTokens(20, m.VocabSize(), 5)
	for _, kv := range []tensor.KVType{tensor.KVF32, tensor.KVF16, tensor.KVQ8} {
		a := m.NewStateKV(64, kv)
		if _, err := a.Forward(toks[:12]); err != nil {
			t.Fatal(err)
		}
		want, err := a.Forward(toks[12:])
		if err != nil {
			t.Fatal(err)
		}
		want = append([]float32(nil), want...)
		b := m.NewStateKV(64, kv)
		if _, err := b.Forward(testTokens(30, m.VocabSize(), 6)); err != nil { // stale rows to overwrite
			t.Fatal(err)
		}
		if err := b.CopyPrefix(a, 12); err != nil {
			t.Fatal(err)
		}
		if b.Pos() != 12 {
			t.Fatalf("%s: after CopyPrefix Pos = %d, want 12", kv, b.Pos())
		}
		got, err := b.Forward(toks[12:])
		if err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("%s: logit %d after a copied prefix %g, computed %g", kv, j, got[j], want[j])
			}
		}
		if err := b.CopyPrefix(a, 21); err == nil {
			t.Errorf("%s: copying more tokens than the source holds succeeded", kv)
		}
	}
	other := m.NewStateKV(64, tensor.KVF16)
	if err := other.CopyPrefix(m.NewStateKV(64, tensor.KVF32), 0); err == nil {
		t.Error("copying between cache types succeeded")
	}
}

func TestBatchErrors(t *testing.T) {
	m := quantModel(t, 44)
	b := m.NewBatch(4, 2)
	s1, s2, s3 := m.NewState(8), m.NewState(8), m.NewState(8)
	if _, err := b.Add(s1, []int{1, 2, 3}, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		s    *State
		toks []int
	}{
		{"same state twice", s1, []int{1}},
		{"over the token budget", s2, []int{1, 2}},
		{"outside the vocabulary", s2, []int{m.VocabSize()}},
	} {
		if _, err := b.Add(c.s, c.toks, true); err == nil {
			t.Errorf("%s: Add succeeded", c.name)
		}
	}
	if _, err := b.Add(s2, []int{4}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(s3, []int{4}, false); err == nil {
		t.Error("a third sequence in a batch of two: Add succeeded")
	}
	b.Run()
	if b.Logits(0) == nil || b.Logits(1) != nil {
		t.Error("logits given where not asked, or missing where asked")
	}
	if s1.Pos() != 3 || s2.Pos() != 1 {
		t.Errorf("positions after the step: %d, %d; want 3, 1", s1.Pos(), s2.Pos())
	}
	long := m.NewState(2)
	if _, err := b.Add(long, []int{1, 2, 3}, true); err == nil {
		t.Error("a step past the state's context: Add succeeded")
	}
}

// TestBatchStepAllocs: a steady-state decode step of several sequences
// allocates nothing.
func TestBatchStepAllocs(t *testing.T) {
	m := quantModel(t, 45)
	b := m.NewBatch(16, 4)
	states := make([]*State, 4)
	one := make([][]int, 4)
	for i := range states {
		states[i] = m.NewStateKV(256, tensor.KVF16)
		if _, err := states[i].Forward(testTokens(3+i, m.VocabSize(), uint64(i))); err != nil {
			t.Fatal(err)
		}
		one[i] = []int{i + 1}
	}
	step := func() {
		for i, s := range states {
			if _, err := b.Add(s, one[i], true); err != nil {
				t.Fatal(err)
			}
		}
		b.Run()
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("a batched decode step allocates %v times", n)
	}
}

func ExampleBatch() {
	cfg, _ := Preset("tiny")
	src := randomSource(&cfg, 1, weights.F32)
	m, _ := New(&cfg, src)
	prompt, other := []int{1, 2, 3}, []int{7}
	a, b := m.NewState(32), m.NewState(32)
	batch := m.NewBatch(16, 2)
	ia, _ := batch.Add(a, prompt, true) // a prefills its prompt
	ib, _ := batch.Add(b, other, true)  // while b runs one token
	batch.Run()
	fmt.Println(len(batch.Logits(ia)) == m.VocabSize(), len(batch.Logits(ib)) == m.VocabSize(), a.Pos(), b.Pos())
	// Output: true true 3 1
}
