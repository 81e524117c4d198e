package qwen2

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"ragtune/quant"
)

// TestCollectIMatrix: every projection of every layer gets an entry under
// its GGUF name with one call per collected pass; a final pass shorter
// than quant.MinBatchTokens is left out as llama-imatrix leaves it out;
// values are positive means of squares (q, k and v share their input, so
// their entries are equal; gate and up likewise).
func TestCollectIMatrix(t *testing.T) {
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Init(dir, cfg, 1, nil); err != nil {
		t.Fatal(err)
	}
	tokens := make([]int, 200)
	for i := range tokens {
		tokens[i] = (i*37 + 11) % cfg.VocabSize
	}
	// 200 tokens, windows of 72: 2 windows, each in passes of 32, 32, 8
	// tokens; the 8-token passes are not collected.
	m, err := CollectIMatrix(dir, tokens, "synthetic", IMatrixOptions{Context: 72, UBatch: 32, BOS: 5})
	if err != nil {
		t.Fatal(err)
	}
	if m.Chunks != 4 || m.Dataset != "synthetic" {
		t.Errorf("chunks %d dataset %q, want 4 and synthetic", m.Chunks, m.Dataset)
	}
	if got, want := len(m.Entries), 7*cfg.NumHiddenLayers; got != want {
		t.Fatalf("%d entries, want %d: %v", got, want, m.Names())
	}
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			e := m.Entries[p+n+".weight"]
			if e == nil || e.NCall != 4 {
				t.Fatalf("%s%s: %+v, want 4 calls", p, n, e)
			}
			for _, v := range e.Values {
				if !(v > 0) || math.IsInf(float64(v), 0) {
					t.Fatalf("%s%s: value %g", p, n, v)
				}
			}
		}
		q, v := m.Entries[p+"attn_q.weight"].Values, m.Entries[p+"attn_v.weight"].Values
		g, u := m.Entries[p+"ffn_gate.weight"].Values, m.Entries[p+"ffn_up.weight"].Values
		if fmt.Sprint(q) != fmt.Sprint(v) || fmt.Sprint(g) != fmt.Sprint(u) {
			t.Errorf("layer %d: projections with one input got different statistics", l)
		}
	}
	if _, err := CollectIMatrix(dir, tokens[:100], "", IMatrixOptions{Context: 72}); err == nil || !strings.Contains(err.Error(), "at least 144") {
		t.Errorf("a text shorter than two windows: %v", err)
	}
	// The matrix weighs quantization: a Q4_K_M file quantized with it
	// differs from one without.
	plain, weighted := t.TempDir()+"/p.gguf", t.TempDir()+"/w.gguf"
	if err := Quantize(dir, plain, QuantizeOptions{Mix: quant.MixQ4_K_M}); err != nil {
		t.Fatal(err)
	}
	if err := Quantize(dir, weighted, QuantizeOptions{Mix: quant.MixQ4_K_M, IMatrix: m}); err != nil {
		t.Fatal(err)
	}
	a, _, _ := Open(plain)
	b, _, _ := Open(weighted)
	defer a.Close()
	defer b.Close()
	ta, _ := a.Tensor("model.layers.0.mlp.down_proj.weight")
	tb, _ := b.Tensor("model.layers.0.mlp.down_proj.weight")
	if string(ta.Data) == string(tb.Data) {
		t.Error("the importance matrix changed nothing in ffn_down")
	}
}
