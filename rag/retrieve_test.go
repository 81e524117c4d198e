package rag

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ragtune/index"
)

func hitIDs(h []index.Hit) []string {
	out := make([]string, len(h))
	for i, x := range h {
		out[i] = x.ID
	}
	return out
}

func TestRetrieverModes(t *testing.T) {
	lex := index.NewBM25(index.DefaultBM25Params, strings.Fields)
	lex.AddBatch([]index.Doc{
		{ID: "a", Text: "apple apple pie", Meta: map[string]string{MetaSource: "fruit"}},
		{ID: "b", Text: "apple tree", Meta: map[string]string{MetaSource: "garden"}},
		{ID: "c", Text: "stone wall", Meta: map[string]string{MetaSource: "garden"}},
	})
	vec := index.NewFlat(2)
	vec.Add("a", []float32{1, 0}, nil)
	vec.Add("b", []float32{0.6, 0.8}, nil)
	vec.Add("c", []float32{0, 1}, nil)
	embed := func(ctx context.Context, texts []string) ([][]float32, error) {
		return [][]float32{{0.1, 1}}, nil // closest to c, then b, then a
	}
	ctx := context.Background()
	r := &Retriever{Lexical: lex, Vectors: vec, Embed: embed}
	tests := []struct {
		name string
		mode Mode
		set  func(r *Retriever)
		want []string
	}{
		{"bm25", ModeBM25, nil, []string{"a", "b"}},
		{"dense", ModeDense, nil, []string{"c", "b", "a"}},
		// RRF with equal weights: a (ranks 1 and 3) edges out b (2 and 2):
		// 1/61+1/63 > 2/62.
		{"hybrid rrf", ModeHybrid, nil, []string{"a", "b", "c"}},
		// Dense-heavy: b = 0.1/62+0.9/62 beats a = 0.1/61+0.9/63 and c = 0.9/61.
		{"hybrid rrf dense-heavy", ModeHybrid, func(r *Retriever) { r.DenseWeight = 0.9 }, []string{"b", "a", "c"}},
		{"hybrid rrf lexical-heavy", ModeHybrid, func(r *Retriever) { r.DenseWeight = 0.1 }, []string{"a", "b", "c"}},
		// Relative: a = 0.5·1 + 0.5·0, c = 0.5·0 + 0.5·1 (tie, by ID), b lower.
		{"hybrid relative", ModeHybrid, func(r *Retriever) { r.Fusion = FusionRelative }, []string{"a", "c", "b"}},
		{"rerank reverses", ModeDense, func(r *Retriever) {
			r.Rerank = func(ctx context.Context, q string, h []index.Hit) ([]index.Hit, error) {
				h = slices.Clone(h)
				slices.Reverse(h)
				return h, nil
			}
		}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := *r
			if tt.set != nil {
				tt.set(&rr)
			}
			hits, err := rr.Search(ctx, "apple", 3, tt.mode, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := hitIDs(hits); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v (scores %+v)", got, tt.want, hits)
			}
		})
	}
	// The document blend lifts the chunk whose document matches better.
	docs := index.NewBM25(index.DefaultBM25Params, strings.Fields)
	docs.AddBatch([]index.Doc{{ID: "fruit", Text: "apple pie"}, {ID: "garden", Text: "apple apple apple tree stone wall"}})
	rd := &Retriever{Lexical: lex, Docs: docs, DocWeight: 0.9}
	if hits, _ := rd.Search(ctx, "apple", 2, ModeBM25, nil); hitIDs(hits)[0] != "b" {
		t.Errorf("doc blend: got %v, want b first", hitIDs(hits))
	}
	if _, err := (&Retriever{Lexical: lex}).Search(ctx, "apple", 2, ModeDense, nil); !errors.Is(err, ErrNoVectors) {
		t.Errorf("dense without vectors: %v", err)
	}
	if _, err := ParseMode("sparse"); err == nil {
		t.Errorf("ParseMode accepted sparse")
	}
}
