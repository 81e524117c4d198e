package rag

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/model/bert"
	"ragtune/tokenizer"
)

// tinyBert writes a tiny random BERT with a small hand-made vocabulary
// (so the test needs nothing from ../shared) and returns its directory.
func tinyBert(t *testing.T) string {
	t.Helper()
	toks := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "，", "。", "？"}
	for _, w := range strings.Fields("lora rank low matrix weights forget fine tuning model base knowledge retrieval chunk the is a of and what") {
		toks = append(toks, w)
	}
	for _, r := range "什么是灾难性遗忘微调模型低秩矩阵检索增强生成知识库的了在中文" {
		toks = append(toks, string(r))
	}
	vocab, err := tokenizer.NewWordPiece(toks, tokenizer.DefaultWordPieceOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bert")
	if err := bert.Init(dir, bert.TinyConfig, bert.PoolCLS, 3, vocab); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBertEmbedderDenseRetrieval ingests files with the local encoder and
// runs dense and hybrid queries end to end. Random weights say nothing
// about quality, so the checks are structural: every chunk has a vector
// of the model's size, and a query that is exactly a chunk's embedded text
// finds that chunk first (identical text, identical vector).
func TestBertEmbedderDenseRetrieval(t *testing.T) {
	modelDir := tinyBert(t)
	src := t.TempDir()
	files := map[string]string{
		"forget.txt": "什么是灾难性遗忘？微调了模型，base knowledge is forgotten.",
		"lora.txt":   "LoRA 用低秩矩阵微调模型 weights，rank is low。",
		"rag.txt":    "检索增强生成在知识库中检索 chunk 的内容。",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "bert", ChunkSize: 200, Embedding: &EmbeddingConfig{Model: "tiny-bert"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	emb := LocalBertEmbedder(modelDir)
	if s, err = OpenStore(kbDir, emb, false); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	rep, err := s.Ingest(ctx, []string{src}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != len(files) || rep.Failed != 0 {
		t.Fatalf("ingest report %+v, want %d added", rep, len(files))
	}
	if got, want := s.Stats().VectorDim, bert.TinyConfig.HiddenSize; got != want {
		t.Fatalf("vector dim %d, want %d", got, want)
	}
	for name := range files {
		d, ok := s.Doc(filepath.Join(src, name))
		if !ok {
			t.Fatalf("%s not stored", name)
		}
		query := d.Chunks[0].ContextText()
		for _, mode := range []Mode{ModeDense, ModeHybrid} {
			res, err := s.Search(ctx, Query{Text: query, K: 3, Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(files) {
				t.Fatalf("%s %s: %d results, want %d", mode, name, len(res), len(files))
			}
			if got, want := res[0].ID, chunkID(d.Path, 0); got != want {
				t.Errorf("%s query = text of %s: top %s, want %s", mode, name, got, want)
			}
		}
		res, err := s.Search(ctx, Query{Text: query, K: 1, Mode: ModeDense})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Score < 0.9999 {
			t.Errorf("dense self-match score %.6f, want 1 (vectors are normalized)", res[0].Score)
		}
	}
	// A missing model fails at first use, with the path in the message.
	bad := LocalBertEmbedder(filepath.Join(t.TempDir(), "none"))
	if _, err := bad(ctx, []string{"x"}); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing model: err %v", err)
	}
}
