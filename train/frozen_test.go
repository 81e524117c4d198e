package train

import (
	"math"
	"testing"
)

// TestFrozenBase checks LoRA over a compressed base against LoRA over the
// float32 base holding the same (rounded) values: logits, loss and every
// LoRA gradient agree.
func TestFrozenBase(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.IntermediateSize = 64 // Q8_0 rows are whole 32-weight blocks
	lc := LoRAConfig{R: 4, Alpha: 8, Targets: ModuleNames[:]}
	for _, dtype := range []string{"bf16", "q8_0", "q4_0"} {
		t.Run(dtype, func(t *testing.T) {
			base := RandomBase(cfg, 3)
			// Round the float32 reference to the values dtype stores.
			for _, n := range base.Names {
				if !frozenName(n, cfg) {
					continue
				}
				s := base.Shape(n)
				dec, err := compress(base.Get(n), s[0], s[1], dtype)
				if err != nil {
					t.Fatal(err)
				}
				dec.DecodeRows(base.Get(n), 0, s[0], 0, s[1])
			}
			ref, err := NewModel(cfg, base, ModeLoRA, lc, nil, 9)
			if err != nil {
				t.Fatal(err)
			}
			fb, fr, err := LoadFrozenBase(SourceOf(base), cfg, dtype)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(fr), 7*cfg.NumHiddenLayers+1; got != want {
				t.Fatalf("%d compressed tensors, want %d", got, want)
			}
			m, err := NewLoRAModel(cfg, fb, fr, lc, nil, 9)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []*Model{ref, m} { // non-zero B
				for i := range x.Adapter.Data {
					x.Adapter.Data[i] += 0.01 * float32(i%7-3)
				}
			}
			b := randomBatch(4, 2, 8, cfg.VocabSize)
			lr, _ := ref.Logits(b)
			lm, _ := m.Logits(b)
			if e, i := maxAbsDiff(lm, lr); e > 1e-5 {
				t.Errorf("logits differ by %.3g at %d", e, i)
			}
			s1, _, _ := ref.ForwardBackward(b, 0)
			s2, _, _ := m.ForwardBackward(b, 0)
			if math.Abs(s1-s2) > 1e-4 {
				t.Errorf("loss sum %v, want %v", s2, s1)
			}
			if e, i := relErr(m.Grads.Data, ref.Grads.Data); e > 1e-4 {
				t.Errorf("LoRA gradients: worst relative error %.3g at %d", e, i)
			}
		})
	}
	if _, _, err := LoadFrozenBase(SourceOf(RandomBase(cfg, 1)), cfg, "int3"); err == nil {
		t.Error("unknown base dtype accepted")
	}
	if _, err := newModel(cfg, RandomBase(cfg, 1), Frozen{"x": nil}, ModeFull, lc, nil, 1); err == nil {
		t.Error("full training over a compressed base accepted")
	}
}
