package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/model/bert"
	"ragtune/tokenizer"
)

// ingest --embed-path records the local encoder in the knowledge base, so
// ask --mode dense/hybrid works later without naming it again.
func TestIngestWithLocalEncoder(t *testing.T) {
	toks := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "。"}
	toks = append(toks, strings.Fields("lora rank low matrix model retrieval chunk")...)
	for _, r := range "什么是灾难性遗忘微调模型检索" {
		toks = append(toks, string(r))
	}
	vocab, err := tokenizer.NewWordPiece(toks, tokenizer.DefaultWordPieceOptions())
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(t.TempDir(), "bert")
	if err := bert.Init(enc, bert.TinyConfig, bert.PoolCLS, 5, vocab); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for name, text := range map[string]string{"a.txt": "什么是灾难性遗忘。", "b.txt": "lora rank low matrix model。"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "e", "--kb-dir", root, "--embed-path", enc, "--quiet", src); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	for _, mode := range []string{"dense", "hybrid"} {
		code, stdout, stderr := runCaptured(t, "ask", "--kb", "e", "--kb-dir", root, "--mode", mode, "--top-k", "1", "lora rank low matrix model。")
		if code != 0 {
			t.Fatalf("ask --mode %s: %s", mode, stderr)
		}
		if !strings.Contains(stdout, "b.txt") {
			t.Errorf("ask --mode %s: the identical chunk b.txt is not first:\n%s", mode, stdout)
		}
	}
	if code, _, _ := runCaptured(t, "ingest", "--kb", "x", "--kb-dir", root, "--embed-path", enc, "--embed-url", "http://127.0.0.1:1", src); code != 2 {
		t.Errorf("--embed-path with --embed-url: exit %d, want 2", code)
	}
}
