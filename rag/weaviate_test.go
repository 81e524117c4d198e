package rag

import (
	"context"
	"math"
	"strings"
	"testing"

	"ragtune/index"
	"ragtune/internal/weaviatetest"
)

// unit returns a normalized vector pointing mostly along axis i.
func unit(dim, i int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = 0.05
	}
	v[i] = 1
	normalizeVec(v)
	return v
}

func normalizeVec(v []float32) {
	var n float32
	for _, x := range v {
		n += x * x
	}
	n = float32(1 / math.Sqrt(float64(n)))
	for i := range v {
		v[i] *= n
	}
}

// TestWeaviateBackend runs the backend against a real weaviate-server:
// gse-tokenized BM25 over Chinese, nearVector and hybrid returning our
// chunk IDs, filters, deletion by source, and use as a Retriever's
// vector index.
func TestWeaviateBackend(t *testing.T) {
	base := weaviatetest.Shared(t)
	ctx := context.Background()
	w, err := OpenWeaviate(ctx, WeaviateConfig{URL: base, Class: "RagtuneTest"})
	if err != nil {
		t.Fatal(err)
	}
	// The server is shared: start from an empty collection whatever an
	// earlier run (-count) left.
	if err := w.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if w, err = OpenWeaviate(ctx, WeaviateConfig{URL: base, Class: "RagtuneTest"}); err != nil {
		t.Fatal(err)
	}
	const dim = 8
	chunks := []IndexedChunk{
		{ID: "forget.txt#0", Text: "灾难性遗忘是指模型在学习新任务后忘记旧任务的知识。", Meta: map[string]string{MetaSource: "forget.txt", MetaTitle: "遗忘"}, Vector: unit(dim, 0)},
		{ID: "lora.md#0", Text: "LoRA 用两个低秩矩阵近似权重更新，只训练很少的参数。", Meta: map[string]string{MetaSource: "lora.md"}, Vector: unit(dim, 1)},
		{ID: "lora.md#1", Text: "The rank r of LoRA controls how many parameters are trained.", Meta: map[string]string{MetaSource: "lora.md"}, Vector: unit(dim, 2)},
		{ID: "rag.html#0", Text: "检索增强生成先检索相关段落，再让模型根据段落回答问题。", Meta: map[string]string{MetaSource: "rag.html"}, Vector: unit(dim, 3)},
		{ID: "rag.html#1", Text: "Retrieval augmented generation grounds answers in retrieved passages.", Meta: map[string]string{MetaSource: "rag.html"}, Vector: unit(dim, 4)},
	}
	if err := w.PutChunks(ctx, chunks); err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	for _, c := range chunks {
		ours[c.ID] = true
	}
	top := func(q BackendQuery) []index.Hit {
		t.Helper()
		hits, err := w.SearchChunks(ctx, q)
		if err != nil {
			t.Fatalf("%s %q: %v", q.Mode, q.Text, err)
		}
		for _, h := range hits {
			if !ours[h.ID] {
				t.Errorf("%s %q: hit %q is not one of our chunk IDs", q.Mode, q.Text, h.ID)
			}
		}
		return hits
	}
	tests := []struct {
		name string
		q    BackendQuery
		want string
	}{
		{"bm25 chinese", BackendQuery{Text: "什么是灾难性遗忘", Mode: ModeBM25}, "forget.txt#0"},
		{"bm25 english", BackendQuery{Text: "rank parameters", Mode: ModeBM25}, "lora.md#1"},
		{"dense", BackendQuery{Vector: unit(dim, 3), Mode: ModeDense}, "rag.html#0"},
		{"hybrid agree", BackendQuery{Text: "低秩矩阵", Vector: unit(dim, 1), Mode: ModeHybrid}, "lora.md#0"},
		{"hybrid dense-heavy", BackendQuery{Text: "灾难性遗忘", Vector: unit(dim, 4), Mode: ModeHybrid, DenseWeight: 0.95}, "rag.html#1"},
		{"hybrid rrf", BackendQuery{Text: "retrieval passages", Vector: unit(dim, 4), Mode: ModeHybrid, Fusion: FusionRRF}, "rag.html#1"},
		{"filtered", BackendQuery{Text: "LoRA 检索", Mode: ModeBM25, Filter: func(m map[string]string) bool { return m[MetaSource] == "rag.html" }}, "rag.html#0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := top(tt.q)
			if len(hits) == 0 || hits[0].ID != tt.want {
				t.Fatalf("top hit %v, want %s", hits, tt.want)
			}
			if tt.q.Filter != nil {
				for _, h := range hits {
					if h.Meta[MetaSource] != "rag.html" {
						t.Errorf("filter let %s through", h.ID)
					}
				}
			}
		})
	}
	if hits := top(BackendQuery{Vector: unit(dim, 0), Mode: ModeDense, K: 1}); hits[0].Score < 0.999 {
		t.Errorf("dense self-match score %.4f, want cosine similarity 1", hits[0].Score)
	}

	// As a Retriever's vector index.
	r := &Retriever{Vectors: w, Embed: func(ctx context.Context, texts []string) ([][]float32, error) {
		return [][]float32{unit(dim, 2)}, nil
	}}
	hits, err := r.Search(ctx, "x", 2, ModeDense, nil)
	if err != nil || len(hits) == 0 || hits[0].ID != "lora.md#1" {
		t.Fatalf("retriever over weaviate: %v, %v", hits, err)
	}
	if got, want := w.Len(), len(chunks); got != want {
		t.Errorf("Len %d, want %d", got, want)
	}

	// Deleting a source removes its chunks from every mode; re-putting a
	// chunk replaces it instead of duplicating it.
	if err := w.DeleteSource(ctx, "forget.txt"); err != nil {
		t.Fatal(err)
	}
	for _, h := range top(BackendQuery{Text: "灾难性遗忘", Mode: ModeBM25, K: 10}) {
		if strings.HasPrefix(h.ID, "forget.txt") {
			t.Errorf("deleted chunk %s still found", h.ID)
		}
	}
	if err := w.PutChunks(ctx, chunks[1:2]); err != nil {
		t.Fatal(err)
	}
	if got, want := w.Len(), len(chunks)-1; got != want {
		t.Errorf("after delete and re-put: Len %d, want %d", got, want)
	}
	if !w.Delete("lora.md#0") || w.Len() != len(chunks)-2 {
		t.Errorf("Delete by chunk ID did not remove it (Len %d)", w.Len())
	}

	// Reopening finds the existing class.
	if _, err := OpenWeaviate(ctx, WeaviateConfig{URL: base, Class: "RagtuneTest"}); err != nil {
		t.Fatal(err)
	}
}

func TestWeaviateConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []WeaviateConfig{
		{URL: "http://127.0.0.1:1", Class: "lowercase"},
		{URL: "127.0.0.1:8080", Class: "Chunks"},
	} {
		if _, err := OpenWeaviate(ctx, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if got := objectID("C", "a#1"); got != objectID("C", "a#1") || got == objectID("C", "a#2") || len(got) != 36 || got[14] != '5' {
		t.Errorf("objectID not a stable v5-style UUID: %s", got)
	}
}
