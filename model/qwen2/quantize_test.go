package qwen2

import (
	"path/filepath"
	"testing"

	"ragtune/quant"
	"ragtune/weights"
)

// TestQuantizeTypes writes a tiny model as Q4_K_M and checks every tensor
// of the GGUF file has the type the mix's policy gives it, the 1-D ones
// F32, and that the progress total is the values quantized.
func TestQuantizeTypes(t *testing.T) {
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Init(dir, cfg, 1, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "q.gguf")
	var total, done int64
	err = Quantize(dir, out, QuantizeOptions{Mix: quant.MixQ4_K_M, Progress: func(n int64) func(int) {
		total = n
		return func(k int) { done += int64(k) }
	}})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || done != total {
		t.Errorf("progress: %d of %d values reported", done, total)
	}
	src, qcfg, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	quantized := 0
	for _, s := range Tensors(qcfg) {
		tt, err := src.Tensor(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := qcfg.QuantType(quant.MixQ4_K_M, false, s.Name, s.Shape)
		if !ok {
			want = weights.F32
		} else {
			quantized++
		}
		if tt.DType != want {
			t.Errorf("%s: %s, want %s", s.Name, tt.DType, want)
		}
	}
	if quantized == 0 {
		t.Error("no tensor was quantized")
	}
}
