package rag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"ragtune/index"
)

// Mode selects the retrieval path.
type Mode string

const (
	ModeBM25   Mode = "bm25"   // lexical only
	ModeDense  Mode = "dense"  // embedding similarity only
	ModeHybrid Mode = "hybrid" // both, fused
)

// ParseMode accepts "bm25", "dense" or "hybrid".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeBM25, ModeDense, ModeHybrid:
		return m, nil
	}
	return "", fmt.Errorf("unknown retrieval mode %q (want bm25, dense or hybrid)", s)
}

// Fusion selects how hybrid mode merges the lexical and dense lists.
type Fusion string

const (
	FusionRRF      Fusion = "rrf"      // reciprocal rank fusion
	FusionRelative Fusion = "relative" // weighted min-max normalized scores
)

// VectorIndex is what the dense path needs from an index; index.Flat and
// index.HNSW implement it (and a remote vector database could).
type VectorIndex interface {
	Add(id string, vec []float32, meta map[string]string) error
	Delete(id string) bool
	Search(query []float32, k int, filter index.Filter) ([]index.Hit, error)
	Len() int
	Dim() int
	Save(w io.Writer) error
}

// MetaSource is the chunk metadata key naming the chunk's document; the
// document-level index uses it to find a chunk's document score.
const MetaSource = "source"

// MetaTitle is the chunk metadata key holding its document's title.
const MetaTitle = "title"

// ErrNoVectors means dense retrieval was asked of a retriever without an
// embedder or vector index.
var ErrNoVectors = errors.New("no embedder or vector index configured for dense retrieval")

// Retriever ranks chunks for a query. Lexical search can be blended with
// a document-level BM25 (Docs, one entry per source document, ID = the
// source): a chunk then scores (1-DocWeight)·s/s₁ + DocWeight·d/d₁, where s₁
// and d₁ are the best chunk and document scores. Chunks that answer a
// question often do not repeat its subject (a pronoun stands in for the
// name mentioned two chunks earlier); the document score carries it.
type Retriever struct {
	Lexical   *index.BM25
	Docs      *index.BM25
	DocWeight float64

	Vectors     VectorIndex
	Embed       Embedder
	Fusion      Fusion  // default FusionRRF
	DenseWeight float64 // hybrid: weight of the dense list, lexical gets 1-DenseWeight; 0 means 0.5

	Depth int // candidates taken from each list before fusion; default max(50, 5k)

	// Rerank, when set, reorders the fused candidates (all Depth of them)
	// before the top k are cut, e.g. with a cross-encoder; Hit.ID names
	// the chunk and the reranker looks its text up itself.
	Rerank Reranker
}

// Reranker reorders candidate hits for query, best first. It may drop
// hits; it should not invent IDs.
type Reranker func(ctx context.Context, query string, hits []index.Hit) ([]index.Hit, error)

// Search returns the k best chunk hits (IDs as indexed) for query.
func (r *Retriever) Search(ctx context.Context, query string, k int, mode Mode, filter index.Filter) ([]index.Hit, error) {
	depth := r.Depth
	if depth <= 0 {
		depth = max(50, 5*k)
	}
	hits, err := r.candidates(ctx, query, depth, mode, filter)
	if err != nil {
		return nil, err
	}
	if r.Rerank != nil && len(hits) > 0 {
		if hits, err = r.Rerank(ctx, query, hits); err != nil {
			return nil, fmt.Errorf("rerank: %w", err)
		}
	}
	return cut(hits, k), nil
}

func (r *Retriever) candidates(ctx context.Context, query string, depth int, mode Mode, filter index.Filter) ([]index.Hit, error) {
	switch mode {
	case ModeBM25, "":
		return r.lexical(query, depth, filter), nil
	case ModeDense:
		return r.dense(ctx, query, depth, filter)
	case ModeHybrid:
		dense, err := r.dense(ctx, query, depth, filter)
		if err != nil {
			return nil, err
		}
		lex := r.lexical(query, depth, filter)
		w := r.DenseWeight
		if w <= 0 {
			w = 0.5
		}
		weights := []float64{1 - w, w}
		var fused []index.Hit
		if r.Fusion == FusionRelative {
			fused = index.RelativeScoreFusion([][]index.Hit{lex, dense}, weights)
		} else {
			fused = index.RRF([][]index.Hit{lex, dense}, weights, 0)
		}
		return fused, nil
	}
	return nil, fmt.Errorf("unknown retrieval mode %q", mode)
}

func cut(h []index.Hit, k int) []index.Hit {
	if len(h) > k {
		return h[:k]
	}
	return h
}

func (r *Retriever) lexical(query string, depth int, filter index.Filter) []index.Hit {
	if r.Lexical == nil {
		return nil
	}
	hits := r.Lexical.Search(query, depth, filter)
	if r.Docs == nil || r.DocWeight <= 0 || len(hits) == 0 {
		return hits
	}
	docHits := r.Docs.Search(query, depth, nil)
	docScore := map[string]float64{}
	for _, d := range docHits {
		docScore[d.ID] = d.Score / docHits[0].Score
	}
	w := r.DocWeight
	top := hits[0].Score
	out := make([]index.Hit, len(hits))
	for i, h := range hits {
		out[i] = h
		out[i].Score = (1-w)*h.Score/top + w*docScore[h.Meta[MetaSource]]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

func (r *Retriever) dense(ctx context.Context, query string, depth int, filter index.Filter) ([]index.Hit, error) {
	if r.Vectors == nil || r.Embed == nil {
		return nil, ErrNoVectors
	}
	vecs, err := r.Embed(asQuery(ctx), []string{query})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("embed query: got %d vectors for 1 text", len(vecs))
	}
	return r.Vectors.Search(vecs[0], depth, filter)
}
