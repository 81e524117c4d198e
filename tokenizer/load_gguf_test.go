package tokenizer_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/internal/shareddata"
	"ragtune/tokenizer"
)

// TestLoadAnyGGUF: LoadAny reads a GGUF file's vocabulary, a byte-level
// BPE written by our GGUF writer and llama.cpp's vocab-only BERT file
// alike, and names the file when it holds no vocabulary.
func TestLoadAnyGGUF(t *testing.T) {
	want := tokenizer.ByteLevelR1()
	md := want.GGUFMetadata()
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	write := func(name string, md map[string]any, keys []string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		w := gguf.NewWriter(p)
		if err := w.AddMetadata("general.architecture", "qwen2"); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := w.AddMetadata(k, md[k]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write("vocab.GGUF", md, keys)
	tok, err := tokenizer.LoadAny(p)
	if err != nil {
		t.Fatal(err)
	}
	const text = "你好 <think>\nworld"
	if got, w := tok.Encode(text, true), want.Encode(text, true); !slices.Equal(got, w) {
		t.Errorf("GGUF vocabulary encodes %v, want %v", got, w)
	}

	empty := write("empty.gguf", nil, nil)
	if _, err := tokenizer.LoadAny(empty); err == nil || !strings.Contains(err.Error(), "tokenizer of") {
		t.Errorf("a GGUF without a vocabulary: %v", err)
	}

	bge := filepath.Join(shareddata.Path(t, "tokenizer-tests"), "ggml-vocab-bert-bge.gguf")
	if _, err := os.Stat(bge); err != nil {
		t.Skipf("llama.cpp's vocab-only BERT file is absent (%v)", err)
	}
	if tk, err := tokenizer.LoadAny(bge); err != nil {
		t.Error(err)
	} else if _, ok := tk.(*tokenizer.WordPiece); !ok {
		t.Errorf("bert-bge GGUF: %T, want *WordPiece", tk)
	}
}
