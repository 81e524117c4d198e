package qwen2

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"ragtune/tokenizer"
)

func TestRNGReference(t *testing.T) {
	// splitmix64 from state 0 gives 0xe220a8397b1dcdaf first: the
	// published reference value, so the stream is the standard one.
	var x uint64
	if got, want := splitmix64(&x), uint64(0xe220a8397b1dcdaf); got != want {
		t.Errorf("splitmix64 = %#x, want %#x", got, want)
	}
	r := newRNG(1, 2, 3)
	var sum, sq float64
	const n = 200000
	for i := 0; i < n/2; i++ {
		a, b := r.normal2()
		sum += a + b
		sq += a*a + b*b
	}
	if mean, v := sum/n, sq/n; math.Abs(mean) > 0.02 || math.Abs(v-1) > 0.02 {
		t.Errorf("normal mean %.4f variance %.4f", mean, v)
	}
}

// The R1-Distill-Llama-70B preset initialized with the byte-level
// vocabulary (what 'model init' does without --tokenizer) keeps the real
// 128256-row embedding and head, the largest tensors of the 70B, and its
// GGUF lists 128256 tokens (the unused ids as padding), so llama.cpp's
// check of the vocabulary against the embedding passes. Narrow layers keep
// the test small; the rows are the preset's.
func TestInitKeepsPresetVocab(t *testing.T) {
	cfg, err := Preset("r1-distill-llama-70b")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Reshape(Shape{HiddenSize: 32, IntermediateSize: 64, Layers: 1, Heads: 4, KVHeads: 1}); err != nil {
		t.Fatal(err)
	}
	tok := tokenizer.ByteLevelLlama3R1()
	dir := t.TempDir()
	if err := InitWith(dir, cfg, 1, InitOptions{Tokenizer: tok, KeepVocab: true}); err != nil {
		t.Fatal(err)
	}
	src, c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if c.VocabSize != 128256 {
		t.Fatalf("vocab_size %d, want the preset's 128256 (tokenizer has %d)", c.VocabSize, tok.VocabSize())
	}
	for _, name := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
		w, err := src.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{128256, 32}; !slices.Equal(w.Shape, want) {
			t.Errorf("%s has shape %v, want %v", name, w.Shape, want)
		}
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteGGUF(path, src, c, GGUFOptions{Type: KeepType, Tokenizer: tok.GGUFMetadata()}); err != nil {
		t.Fatal(err)
	}
	g, err := OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	toks, _ := g.File.Metadata["tokenizer.ggml.tokens"].([]string)
	if len(toks) != 128256 {
		t.Errorf("GGUF lists %d tokens, want 128256 (one per embedding row)", len(toks))
	}

	// Without KeepVocab (the tiny presets) the vocabulary is the
	// tokenizer's, rounded up to a multiple of 64.
	small := t.TempDir()
	if err := InitWith(small, cfg, 1, InitOptions{Tokenizer: tok}); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadConfig(small)
	if err != nil {
		t.Fatal(err)
	}
	if want := (tok.VocabSize() + 63) / 64 * 64; sc.VocabSize != want {
		t.Errorf("vocab_size %d without KeepVocab, want %d", sc.VocabSize, want)
	}
}
