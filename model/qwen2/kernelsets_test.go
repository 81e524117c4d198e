package qwen2

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/weights"
)

// TestGoldensEachKernelSet reruns the float32 goldens (PyTorch, llama.cpp)
// through every other float32 kernel set this CPU has (the plain test run
// covers the default one), so one 'go test' checks the model on each tier.
func TestGoldensEachKernelSet(t *testing.T) {
	if testing.Short() {
		t.Skip("reruns the goldens once per kernel set; skipped with -short")
	}
	sets := tensor.KernelSets()
	if len(sets) < 2 {
		t.Skip("one float32 kernel set on this CPU; the plain goldens cover it")
	}
	for _, name := range sets[1:] {
		t.Run(name, func(t *testing.T) {
			restore, err := tensor.UseKernels(name)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			t.Run("PyTorch", TestPyTorchGolden)
			t.Run("llama.cpp", TestLlamaCppGolden)
		})
	}
}

// TestQuantizedEachKernelSet runs one Q8_0 and one Q4_0 model through each
// quantized kernel set this CPU has: prefill and decode logits of every
// tile set agree with the Go tile reference's ("go-tiles"), and those of
// the GGUF-layout block sets with the "go" block set's, to float rounding:
// each forms the same exact int32 block sums from the same int8
// activations (the block layout's prefill, float32 GEMM over dequantized
// weights, the same float products), differing in summation order only.
func TestQuantizedEachKernelSet(t *testing.T) {
	for _, dt := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.VocabSize = 96
			src := memSource{}
			for name, tn := range randomSource(cfg, 31, weights.F32) {
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
			toks := testTokens(23, cfg.VocabSize, 32)
			run := func(set string) (prefill, decode []float32) {
				restore, err := quant.UseKernels(set)
				if err != nil {
					t.Fatal(err)
				}
				defer restore()
				m := newTestModel(t, cfg, src, WithMatrixLoader(quant.Loader(DefaultMatrix)))
				prefill = prefillAll(t, m, toks)
				s := m.NewState(8)
				for _, tok := range toks[:5] {
					l, err := s.Forward([]int{tok})
					if err != nil {
						t.Fatal(err)
					}
					decode = append(decode, l...)
				}
				return prefill, decode
			}
			refs := map[string][2][]float32{}
			for _, ref := range []string{"go-tiles", "go"} {
				p, d := run(ref)
				refs[ref] = [2][]float32{p, d}
			}
			for _, set := range quant.KernelSets() {
				ref := "go"
				if strings.HasSuffix(set, "-tiles") {
					ref = "go-tiles"
				}
				if set == ref {
					continue
				}
				wantP, wantD := refs[ref][0], refs[ref][1]
				scale := 0.0
				for _, v := range wantP {
					scale = max(scale, math.Abs(float64(v)))
				}
				gotP, gotD := run(set)
				for _, c := range []struct {
					what      string
					got, want []float32
				}{{"prefill", gotP, wantP}, {"decode", gotD, wantD}} {
					worst, at := 0.0, 0
					for i := range c.want {
						if d := math.Abs(float64(c.got[i] - c.want[i])); d > worst || math.IsNaN(d) {
							worst, at = d, i
						}
					}
					if worst > 1e-4*scale || math.IsNaN(worst) {
						t.Errorf("%s %s: logit %d = %g, %s %g (diff %.3g, logits up to %.3g)", set, c.what, at, c.got[at], ref, c.want[at], worst, scale)
					}
				}
			}
		})
	}
}
