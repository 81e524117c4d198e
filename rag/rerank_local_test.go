package rag

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/index"
	"ragtune/model/bert"
	"ragtune/tokenizer"
)

// tinyCrossEncoder writes a random BERT cross-encoder over a small
// vocabulary (so the test needs nothing from ../shared).
func tinyCrossEncoder(t *testing.T) (string, *bert.Model) {
	t.Helper()
	toks := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	toks = append(toks, strings.Fields("kidney stones liver blood sugar what is the a")...)
	vocab, err := tokenizer.NewWordPiece(toks, tokenizer.DefaultWordPieceOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ce")
	if err := bert.InitCrossEncoder(dir, bert.TinyConfig, 5, vocab, 1); err != nil {
		t.Fatal(err)
	}
	m, err := bert.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// TestLocalCrossEncoderRerank: the retriever's rerank stage orders the
// candidates by the cross-encoder's own pair scores.
func TestLocalCrossEncoderRerank(t *testing.T) {
	dir, m := tinyCrossEncoder(t)
	docs := []string{"kidney stones", "liver blood", "blood sugar", "the liver", "a kidney"}
	want, err := m.ScorePairs("what is the liver", docs)
	if err != nil {
		t.Fatal(err)
	}
	var idocs []index.Doc
	text := map[string]string{}
	for i, d := range docs {
		id := string(rune('a' + i))
		idocs = append(idocs, index.Doc{ID: id, Text: d})
		text[id] = d
	}
	r, err := buildRetriever(context.Background(), idocs, RetrievalOptions{Mode: ModeBM25, Params: index.DefaultBM25Params, Rerank: LocalCrossEncoder(dir), RerankDepth: 10})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := r.Search(context.Background(), "what is the liver", 10, ModeBM25, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) < 2 {
		t.Fatalf("%d hits", len(hits))
	}
	for i, h := range hits {
		j := int(h.ID[0] - 'a')
		if math.Abs(h.Score-float64(want[j])) > 1e-6 {
			t.Errorf("hit %s score %v, cross-encoder %v", h.ID, h.Score, want[j])
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("hits not in score order: %v", hits)
		}
	}
	plain := filepath.Join(t.TempDir(), "plain")
	if err := bert.Init(plain, bert.TinyConfig, bert.PoolCLS, 5, m.Tok); err != nil {
		t.Fatal(err)
	}
	if _, err := LocalCrossEncoder(plain)(context.Background(), "q", []string{"x"}); err == nil || !strings.Contains(err.Error(), "classification head") {
		t.Errorf("plain encoder as reranker: %v", err)
	}
}

func TestRerankConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if c, err := ReadRerankConfig(dir); c != nil || err != nil {
		t.Fatalf("empty dir: %v %v", c, err)
	}
	want := &RerankConfig{URL: "http://x", Model: "m", Depth: 30}
	if err := WriteRerankConfig(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRerankConfig(dir)
	if err != nil || *got != *want {
		t.Errorf("read back %+v %v", got, err)
	}
	if err := WriteRerankConfig(dir, &RerankConfig{URL: "u", Path: "p"}); err == nil {
		t.Error("both path and URL accepted")
	}
	if err := WriteRerankConfig(dir, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := ReadRerankConfig(dir); c != nil {
		t.Error("record not removed")
	}
}
