package qwen2

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/tokenizer"
)

// TestTokenizerMetadata: an HF directory's tokenizer.json becomes the
// tokenizer.* keys, a GGUF file written with them hands the same keys
// back, and a model without a tokenizer yields a warning, not an error.
func TestTokenizerMetadata(t *testing.T) {
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	withTok, bare := t.TempDir(), t.TempDir()
	tok := tokenizer.ByteLevelR1()
	if err := Init(withTok, cfg, 1, tok); err != nil {
		t.Fatal(err)
	}
	if err := Init(bare, cfg, 1, nil); err != nil {
		t.Fatal(err)
	}

	md, warn, err := TokenizerMetadata(withTok)
	if err != nil || warn != "" {
		t.Fatalf("directory with tokenizer.json: warning %q, error %v", warn, err)
	}
	if !reflect.DeepEqual(md, tok.GGUFMetadata()) {
		t.Errorf("directory: %d keys, want the tokenizer's %d", len(md), len(tok.GGUFMetadata()))
	}
	// A file inside the directory reads the directory's tokenizer.
	if md2, _, err := TokenizerMetadata(filepath.Join(withTok, "model.safetensors")); err != nil || !reflect.DeepEqual(md2, md) {
		t.Errorf("model.safetensors: %d keys, error %v; want the directory's", len(md2), err)
	}

	gf := filepath.Join(t.TempDir(), "m.gguf")
	if err := Quantize(withTok, gf, QuantizeOptions{Tokenizer: func() (map[string]any, error) { return md, nil }}); err != nil {
		t.Fatal(err)
	}
	got, warn, err := TokenizerMetadata(gf)
	if err != nil || warn != "" {
		t.Fatalf("GGUF with tokenizer: warning %q, error %v", warn, err)
	}
	if len(got) != len(md) {
		t.Errorf("GGUF: %d tokenizer keys, want %d", len(got), len(md))
	}

	if md, warn, err := TokenizerMetadata(bare); err != nil || md != nil || !strings.Contains(warn, "no tokenizer.json") {
		t.Errorf("directory without tokenizer: %v, %q, %v; want no keys and a warning", md, warn, err)
	}
	plain := filepath.Join(t.TempDir(), "bare.gguf")
	if err := Quantize(bare, plain, QuantizeOptions{}); err != nil {
		t.Fatal(err)
	}
	if md, warn, err := TokenizerMetadata(plain); err != nil || len(md) != 0 || !strings.Contains(warn, "no tokenizer metadata") {
		t.Errorf("GGUF without tokenizer: %v, %q, %v; want no keys and a warning", md, warn, err)
	}
	if _, _, err := TokenizerMetadata(filepath.Join(bare, "missing")); err == nil {
		t.Error("a missing path: no error")
	}
}
