package tokenizer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/internal/shareddata"
	"ragtune/tokenizer"
)

// All llama.cpp bert-bge vectors, with the WordPiece vocabulary read from
// the vocab-only GGUF through package gguf.
func TestBertBGEVectors(t *testing.T) {
	dir := shareddata.Path(t, "tokenizer-tests")
	f, err := gguf.Open(dir + "/ggml-vocab-bert-bge.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := tokenizer.FromGGUFMetadata(f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	wp, ok := tk.(*tokenizer.WordPiece)
	if !ok {
		t.Fatalf("got %T, want *WordPiece", tk)
	}
	in, err := os.ReadFile(dir + "/ggml-vocab-bert-bge.gguf.inp")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(dir + "/ggml-vocab-bert-bge.gguf.out")
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(in), "\n__ggml_vocab_test__\n")
	texts = texts[:len(texts)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(texts) != 46 || len(lines) != 46 {
		t.Fatalf("%d inputs, %d outputs; want 46 each", len(texts), len(lines))
	}
	failed := 0
	for i, s := range texts {
		var want []int
		for _, f := range strings.Fields(lines[i]) {
			n, _ := strconv.Atoi(f)
			want = append(want, n)
		}
		got := wp.Encode(s, false)
		if strings.Trim(strings.Join(strings.Fields(strings.Trim(strconvInts(got), "[]")), " "), " ") != strings.TrimSpace(lines[i]) {
			failed++
			t.Errorf("vector %d %q:\n got  %v %q\n want %v %q", i+1, s, got, pieces(wp, got), want, pieces(wp, want))
		}
	}
	if failed > 0 {
		t.Errorf("%d of 46 bert-bge vectors differ", failed)
	}
	// With special tokens the sequence is wrapped in [CLS] … [SEP].
	if got := wp.Encode("Hello world", true); len(got) != 4 || got[0] != wp.CLS() || got[3] != wp.SEP() || got[0] != 101 || got[3] != 102 {
		t.Errorf("Encode(Hello world, true) = %v", got)
	}
	if got, want := wp.Decode(wp.Encode("Hello, tokenization world!", true)), "hello, tokenization world!"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
	if got, want := wp.Decode(wp.Encode("I don't know, it's FINE.", true)), "i don't know, it's fine."; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}

	// The same vocabulary as vocab.txt and as an HF tokenizer.json gives
	// the same ids on every vector.
	tmp := t.TempDir()
	var vocab strings.Builder
	hfVocab := map[string]int{}
	for i := 0; i < wp.VocabSize(); i++ {
		vocab.WriteString(wp.Token(i) + "\n")
		hfVocab[wp.Token(i)] = i
	}
	if err := os.WriteFile(filepath.Join(tmp, "vocab.txt"), []byte(vocab.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	vj, _ := json.Marshal(hfVocab)
	hf := `{"normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
		"pre_tokenizer": {"type": "BertPreTokenizer"},
		"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": ` + string(vj) + `}}`
	if err := os.MkdirAll(filepath.Join(tmp, "hf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "hf", "tokenizer.json"), []byte(hf), 0o644); err != nil {
		t.Fatal(err)
	}
	fromTxt, err := tokenizer.LoadAny(filepath.Join(tmp, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := tokenizer.LoadAny(filepath.Join(tmp, "hf"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		want := wp.Encode(s, true)
		for name, other := range map[string]tokenizer.Tokenizer{"vocab.txt": fromTxt, "tokenizer.json": fromJSON} {
			if got := other.Encode(s, true); strconvInts(got) != strconvInts(want) {
				t.Errorf("%s vector %d: %v, want %v", name, i+1, got, want)
			}
		}
	}
}

func strconvInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, " ")
}

func pieces(w *tokenizer.WordPiece, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = w.Token(id)
	}
	return out
}
