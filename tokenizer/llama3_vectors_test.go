package tokenizer

import (
	"path/filepath"
	"sync"
	"testing"

	"ragtune/internal/shareddata"
)

// testdata/ggml-vocab-llama-bpe.gguf.{inp,out} are llama.cpp's Llama 3
// tokenizer test vectors (models/ at commit c392e50, MIT: see
// testdata/LICENSE-llama.cpp), ids without BOS.

var (
	llama3Once sync.Once
	llama3Tok  *BPE
	llama3Err  error
)

func llama3(t testing.TB) *BPE {
	t.Helper()
	p := shareddata.Path(t, "llama3-tokenizer", "tokenizer.json")
	llama3Once.Do(func() { llama3Tok, llama3Err = Load(p) })
	if llama3Err != nil {
		t.Fatal(llama3Err)
	}
	return llama3Tok
}

// checkVectorFiles is checkVectors for vectors at any path; Llama 3 has no
// normalizer, so its round trip must give the text back unchanged.
func checkVectorFiles(t *testing.T, tk *BPE, inp, out string, nfc bool) {
	t.Helper()
	vs := readVectors(t, inp, out)
	if len(vs) != 46 {
		t.Errorf("%s: %d vectors, want 46", inp, len(vs))
	}
	failed := 0
	for i, v := range vs {
		got := tk.Encode(v.text, false)
		if !equalIDs(got, v.ids) {
			failed++
			t.Errorf("vector %d %q:\n%s", i+1, v.text, diffIDs(tk, got, v.ids))
		}
		if !nfc {
			if dec := tk.Decode(got); dec != v.text {
				t.Errorf("vector %d: decode(encode(x)) = %q, want %q", i+1, dec, v.text)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d vectors differ", failed, len(vs))
	}
}

// TestLlama3Vectors: the Llama 3 tokenizer (R1-Distill-Llama's vocabulary
// and merges) gives llama.cpp's ids on all 46 llama-bpe vectors, also after
// a round trip through GGUF metadata (pre "llama-bpe").
func TestLlama3Vectors(t *testing.T) {
	tk := llama3(t)
	inp, out := filepath.Join("testdata", "ggml-vocab-llama-bpe.gguf.inp"), filepath.Join("testdata", "ggml-vocab-llama-bpe.gguf.out")
	if tk.Pre() != "llama-bpe" {
		t.Errorf("pre = %q, want llama-bpe", tk.Pre())
	}
	checkVectorFiles(t, tk, inp, out, false)
	back, err := FromGGUFMetadata(tk.GGUFMetadata())
	if err != nil {
		t.Fatal(err)
	}
	checkVectorFiles(t, back.(*BPE), inp, out, false)
}

// TestQwen3Vectors: Qwen3's tokenizer has Qwen2.5's vocabulary, merges and
// pre-tokenizer, so llama.cpp's qwen2 vectors hold for it too.
func TestQwen3Vectors(t *testing.T) {
	tk, err := Load(shareddata.Path(t, "qwen3-tokenizer", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, tk, "ggml-vocab-qwen2.gguf")
	if id, ok := tk.TokenID("<think>"); !ok || id != 151667 {
		t.Errorf("<think> = %d %v, want 151667", id, ok)
	}
}
