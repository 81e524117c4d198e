package tokenizer_test

import (
	"os"
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
	if got, want := wp.Decode(wp.Encode("Hello, tokenization world!", true)), "hello , tokenization world !"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
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
