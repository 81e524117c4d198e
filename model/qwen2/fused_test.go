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

// hideStack hides a matrix's StackRows, so a layer stays unfused.
type hideStack struct{ tensor.Matrix }

// TestFusedProjections: q/k/v and gate/up stacked into one quantized
// matrix give bit-identical logits to the separate matrices (each output
// row is the same tile computation either way), in prefill and decode.
func TestFusedProjections(t *testing.T) {
	if !quant.PackedAvailable() {
		t.Skip("quantized matrices stack only in the AVX512-VNNI layout, which this CPU lacks")
	}
	for _, dt := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		t.Run(dt.String(), func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.VocabSize = 96
			f32 := randomSource(cfg, 21, weights.F32)
			src := memSource{}
			for name, tn := range f32 {
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
			load := quant.Loader(DefaultMatrix)
			fused := newTestModel(t, cfg, src, WithMatrixLoader(load))
			if fused.layers[0].wqkv == nil || fused.layers[0].wgu == nil {
				t.Fatal("projections were not fused")
			}
			separate := newTestModel(t, cfg, src, WithMatrixLoader(func(tn *weights.Tensor) (tensor.Matrix, error) {
				m, err := load(tn)
				if err != nil || !strings.Contains(tn.Name, "_proj") {
					return m, err
				}
				return hideStack{m}, nil
			}))
			if separate.layers[0].wqkv != nil {
				t.Fatal("hidden StackRows still fused")
			}
			toks := testTokens(19, cfg.VocabSize, 22)
			want, got := prefillAll(t, separate, toks), prefillAll(t, fused, toks)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("prefill logit %d: fused %g, separate %g", i, got[i], want[i])
				}
			}
			s1, s2 := fused.NewState(8), separate.NewState(8)
			for i, tok := range toks[:5] {
				a, err := s1.Forward([]int{tok})
				if err != nil {
					t.Fatal(err)
				}
				b, err := s2.Forward([]int{tok})
				if err != nil {
					t.Fatal(err)
				}
				for j := range a {
					if a[j] != b[j] {
						t.Fatalf("decode pos %d logit %d: fused %g, separate %g", i, j, a[j], b[j])
					}
				}
			}
		})
	}
}
