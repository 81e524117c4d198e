package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestXLMRTorchGolden checks the tiny random XLM-RoBERTa encoder (bge-m3's
// dense layout: CLS pooling, normalized) and cross-encoder (bge-reranker's
// layout) that scripts/xlmr_export.go writes against the independent
// PyTorch reference (scripts/bert_rerank_golden.sh): same token ids (from
// the Unigram tokenizer, itself checked against transformers.js in
// package tokenizer), embeddings and logits within 1e-4.
func TestXLMRTorchGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/torch_xlmr_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Pairs []struct {
			Query, Passage string
			IDs, Types     []int
			Logits         []float64
		}
		Texts []struct {
			Text      string
			IDs       []int
			Embedding []float64
		}
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join("..", "..", "tokenizer", "testdata", "unigram_tiny", "tokenizer.json")
	dir := t.TempDir()
	enc, ce := filepath.Join(dir, "enc"), filepath.Join(dir, "ce")
	if err := InitXLMR(enc, TinyXLMRConfig, PoolCLS, TinySeed, tok, 0); err != nil {
		t.Fatal(err)
	}
	if err := InitXLMR(ce, TinyXLMRConfig, PoolCLS, TinySeed, tok, 1); err != nil {
		t.Fatal(err)
	}
	me, err := Load(enc)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := Load(ce)
	if err != nil {
		t.Fatal(err)
	}
	if me.NumLabels() != 0 || mc.NumLabels() != 1 || me.MaxTokens() != 128 {
		t.Fatalf("labels %d/%d, max tokens %d; want 0/1 and 128", me.NumLabels(), mc.NumLabels(), me.MaxTokens())
	}
	var worst float64
	for _, p := range g.Pairs {
		ids, types := mc.EncodePair(p.Query, p.Passage)
		if !slices.Equal(ids, p.IDs) || !slices.Equal(types, p.Types) {
			t.Errorf("pair %q/%q: encoding %v %v, golden %v %v", p.Query, p.Passage, ids, types, p.IDs, p.Types)
		}
		l, err := mc.Classify([][]int{p.IDs}, [][]int{p.Types})
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, math.Abs(float64(l[0][0])-p.Logits[0]))
	}
	for _, x := range g.Texts {
		if ids := me.Tokenize(x.Text); !slices.Equal(ids, x.IDs) {
			t.Errorf("text %q: ids %v, golden %v", x.Text, ids, x.IDs)
		}
		v, err := me.Embed([]string{x.Text})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range x.Embedding {
			worst = max(worst, math.Abs(float64(v[0][i])-want))
		}
	}
	if worst > 1e-4 {
		t.Errorf("max |ours - torch| = %.3g, want ≤ 1e-4", worst)
	}
	t.Logf("max |ours - torch| = %.3g over %d pairs and %d texts", worst, len(g.Pairs), len(g.Texts))
	if err := me.WriteGGUF(filepath.Join(dir, "x.gguf"), "x"); err == nil {
		t.Error("XLM-R exported as a BERT GGUF")
	}
}
