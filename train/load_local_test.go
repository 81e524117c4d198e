package train

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"ragtune/llm"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// TestLoadLocal: a model loaded with an adapter generates exactly what
// the model merged on disk by MergeLoRA generates, and not what the base
// alone does (the adapter is not silently dropped).
func TestLoadLocal(t *testing.T) {
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "base")
	if err := qwen2.Init(modelDir, cfg, 7, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	src, mcfg, err := qwen2.Open(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	lc := LoRAConfig{R: 2, Alpha: 4, Targets: []string{"q", "v", "down"}}
	ad := NewAdapterParams(mcfg, lc)
	r := rand.New(rand.NewPCG(3, 3))
	for i := range ad.Data {
		ad.Data[i] = float32(0.5 * (r.Float64()*2 - 1))
	}
	adDir := filepath.Join(dir, "adapter")
	if err := SaveAdapter(adDir, lc, ad, modelDir); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "merged")
	if err := MergeLoRA(modelDir, adDir, merged, nil); err != nil {
		t.Fatal(err)
	}
	gen := func(path, adapter string) []int {
		t.Helper()
		eng, err := LoadLocal(path, adapter, llm.LoadOptions{LocalOptions: llm.LocalOptions{ContextSize: 64}})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		res, err := eng.Generate(context.Background(), llm.Request{PromptTokens: []int{5, 80, 120, 33}, MaxTokens: 12, Sampling: &llm.Sampling{}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.TokenIDs
	}
	withAdapter, onDisk, base := gen(modelDir, adDir), gen(merged, ""), gen(modelDir, "")
	if !slices.Equal(withAdapter, onDisk) {
		t.Errorf("adapter merged on load generated %v, merged on disk %v", withAdapter, onDisk)
	}
	if slices.Equal(withAdapter, base) {
		t.Errorf("the adapter changed nothing: %v", base)
	}
	if _, err := LoadLocal(modelDir, filepath.Join(dir, "missing"), llm.LoadOptions{}); err == nil {
		t.Error("a missing adapter loaded")
	}
}
