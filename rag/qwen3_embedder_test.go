package rag

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"ragtune/internal/shareddata"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/safetensors"
	"ragtune/tokenizer"
	"ragtune/weights"
)

// TestQwen3Embedder: on a tiny random Qwen3 (tied embeddings, real Qwen3
// vocabulary) the vector of a text is the normalized final hidden state
// of its last token, <|endoftext|>; that state is the lm_head input, so
// the embedding matrix times it gives Forward's logits. LocalBertEmbedder
// loads the directory as a Qwen3 embedder.
func TestQwen3Embedder(t *testing.T) {
	tok, err := tokenizer.Load(shareddata.Path(t, "qwen3-tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := qwen2.PresetFor("tiny", "qwen3")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.TieWordEmbeddings {
		t.Fatal("tiny-qwen3 preset no longer ties its embeddings; this test needs it")
	}
	cfg.MaxPositionEmbeddings = 128
	dir := filepath.Join(t.TempDir(), "Qwen3-Embedding-tiny")
	if err := qwen2.Init(dir, cfg, 9, tok); err != nil {
		t.Fatal(err)
	}
	m, err := qwen2.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	eos, _ := tok.TokenID("<|endoftext|>")
	ids := append(tok.EncodeWith("灾难性遗忘 catastrophic forgetting", tokenizer.EncodeOptions{}), eos)
	h, err := m.NewState(len(ids)).Hidden(ids)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.NewState(len(ids)).Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	et, err := set.Tensor("model.embed_tokens.weight")
	if err != nil {
		t.Fatal(err)
	}
	dt, err := safetensors.WeightsDType(et.DType)
	if err != nil {
		t.Fatal(err)
	}
	E, err := quant.Float32(&weights.Tensor{Name: et.Name, DType: dt, Shape: et.Shape, Data: et.Data})
	if err != nil {
		t.Fatal(err)
	}
	C := len(h)
	var worst float64
	for v := 0; v < m.VocabSize(); v += 97 {
		var dot float64
		for c := range C {
			dot += float64(E[v*C+c]) * float64(h[c])
		}
		worst = max(worst, math.Abs(dot-float64(logits[v])))
	}
	if worst > 1e-3 {
		t.Errorf("embedding matrix · hidden differs from the logits by %.3g", worst)
	}

	e := LocalBertEmbedder(dir)
	vecs, err := e(context.Background(), []string{"灾难性遗忘 catastrophic forgetting"})
	if err != nil {
		t.Fatal(err)
	}
	var norm float64
	for _, x := range h {
		norm += float64(x) * float64(x)
	}
	norm = math.Sqrt(norm)
	for c := range C {
		if math.Abs(float64(vecs[0][c])-float64(h[c])/norm) > 1e-5 {
			t.Fatalf("embedding[%d] = %v, want %v", c, vecs[0][c], float64(h[c])/norm)
		}
	}
	if QueryInstruction(dir) != Qwen3QueryInstruction {
		t.Errorf("no Qwen3 query instruction for %s", dir)
	}
}
