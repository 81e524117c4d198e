package rag

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"ragtune/index"
)

func TestQueryInstruction(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "my-model")
	os.MkdirAll(st, 0o755)
	os.WriteFile(filepath.Join(st, "config_sentence_transformers.json"), []byte(`{"prompts":{"query":"Q: ","document":""}}`), 0o644)
	for in, want := range map[string]string{
		"BAAI/bge-large-zh-v1.5":     BGEQueryInstructionZH,
		"/models/bge-small-en-v1.5/": BGEQueryInstructionEN,
		"BAAI/bge-m3":                "",
		"BAAI/bge-reranker-base":     "",
		"Qwen/Qwen3-Embedding-0.6B":  Qwen3QueryInstruction,
		"text-embedding-3-small":     "",
		st:                           "Q: ",
		"":                           "",
	} {
		if got := QueryInstruction(in); got != want {
			t.Errorf("QueryInstruction(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestQueryInstructionOnlyForQueries: the retriever's dense path marks
// query embeddings, so the instruction reaches queries and not passages.
func TestQueryInstructionOnlyForQueries(t *testing.T) {
	var seen []string
	base := func(_ context.Context, texts []string) ([][]float32, error) {
		seen = append(seen, texts...)
		out := make([][]float32, len(texts))
		for i := range out {
			out[i] = []float32{1, 0}
		}
		return out, nil
	}
	e := WithQueryInstruction(base, "Q: ")
	r, err := buildRetriever(context.Background(), []index.Doc{{ID: "a", Text: "passage"}}, RetrievalOptions{Mode: ModeDense, Embed: e})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Search(context.Background(), "question", 1, ModeDense, nil); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "passage" || seen[1] != "Q: question" {
		t.Errorf("embedded %q, want passage unprefixed and the query prefixed", seen)
	}
}
