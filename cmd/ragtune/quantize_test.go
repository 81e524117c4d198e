package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"ragtune/gguf"
)

// TestQuantizeMatchesLlamaCpp quantizes the tiny model and requires every
// tensor's type and bytes to equal what llama.cpp's llama-quantize wrote
// for the same model (scripts/quant_llamacpp_model.py made the golden).
func TestQuantizeMatchesLlamaCpp(t *testing.T) {
	raw, err := os.ReadFile("testdata/quantize_llamacpp_tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]map[string]struct {
		Type   uint32 `json:"type"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny")
	if err := runModelInit([]string{"--out", model, "--preset", "tiny"}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"q8_0", "q4_0"} {
		want := golden[typ]
		if len(want) == 0 {
			t.Fatalf("golden has no %s entry", typ)
		}
		out := filepath.Join(dir, typ+".gguf")
		if err := runQuantize([]string{"--model", model, "--type", typ, "--out", out}); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(f.Tensors); got != len(want) {
			t.Errorf("%s: %d tensors, llama.cpp wrote %d", typ, got, len(want))
		}
		for _, ti := range f.Tensors {
			w, ok := want[ti.Name]
			if !ok {
				t.Errorf("%s: tensor %q not in llama.cpp's file", typ, ti.Name)
				continue
			}
			sum := sha256.Sum256(ti.Data)
			if got := uint32(ti.Type); got != w.Type {
				t.Errorf("%s %s: type %s (%d), llama.cpp chose %d", typ, ti.Name, ti.Type, got, w.Type)
			} else if got := hex.EncodeToString(sum[:]); got != w.SHA256 {
				t.Errorf("%s %s: data differs from llama.cpp's (sha256 %s, want %s)", typ, ti.Name, got, w.SHA256)
			}
		}
		f.Close()
	}
}

func TestQuantizeUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--model", "x", "--out", "y"},
		{"--model", "x", "--out", "y", "--type", "q5_k"},
	} {
		if err := runQuantize(args); err == nil {
			t.Errorf("runQuantize(%q) succeeded, want a usage error", args)
		}
	}
}
