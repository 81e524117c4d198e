package main

import (
	"context"
	"path/filepath"
	"testing"

	"ragtune/demo"
	"ragtune/eval"
	"ragtune/rag"
)

// TestDemoRAGPromptsIndependentOfWorkdir builds the demo's knowledge base
// in two work directories at different places and depths, the way
// 'ragtune demo' does, and retrieves for the held-out questions the way
// its compare step does. The passages and the RAG prompts must be
// identical: the prompts once carried each passage's absolute file path,
// so the base+RAG and tuned+RAG rows of the same commit changed with the
// directory the demo ran in (25.63, 25.85, 26.64 answer perplexity).
func TestDemoRAGPromptsIndependentOfWorkdir(t *testing.T) {
	const topK = 3
	run := func(workdir string) []string {
		files, err := demo.WriteFiles(filepath.Join(workdir, "data"), 0.2, 42)
		if err != nil {
			t.Fatal(err)
		}
		kbRoot := filepath.Join(workdir, "kb")
		if err := runCommandLine([]string{"ingest", "--kb", "demo", "--kb-dir", kbRoot, "--chunk-size", "160", "--overlap", "24", "--quiet", files.Corpus}); err != nil {
			t.Fatal(err)
		}
		items, err := eval.LoadItems(files.QATest)
		if err != nil {
			t.Fatal(err)
		}
		retr, closeKB, err := openKBRetriever(kbRoot, "demo", "bm25")
		if err != nil {
			t.Fatal(err)
		}
		defer closeKB()
		var prompts []string
		for _, it := range items {
			ps, err := retr.Retrieve(context.Background(), it.Question, topK)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) == 0 {
				t.Fatalf("no passage for %q", it.Question)
			}
			prompts = append(prompts, rag.Prompt(it.Question, ps, rag.PromptOptions{Lang: it.Lang}))
		}
		return prompts
	}
	a := run(filepath.Join(t.TempDir(), "demo"))
	b := run(filepath.Join(t.TempDir(), "a", "much", "longer", "path", "ragtune-demo"))
	if len(a) != len(b) {
		t.Fatalf("%d prompts in one work directory, %d in the other", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("held-out question %d: the RAG prompt depends on the work directory:\n--- first:\n%s\n--- second:\n%s", i, a[i], b[i])
		}
	}
}
