package rag

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"ragtune/index"
	"ragtune/openai"
)

// RerankScorer scores (query, document) pairs, one score per document in
// order, higher meaning more relevant. A local cross-encoder and a remote
// /v1/rerank server both fit it.
type RerankScorer func(ctx context.Context, query string, docs []string) ([]float64, error)

// DefaultRerankDepth is how many fused candidates a reranker rescores when
// no depth is given: a cross-encoder costs one forward pass per candidate,
// so depth, not corpus size, sets a query's latency.
const DefaultRerankDepth = 20

// NewReranker turns a scorer into a Retriever stage: the first depth
// candidates (DefaultRerankDepth when depth ≤ 0) are rescored and sorted
// by the new score; candidates beyond depth keep their order after them,
// so reranking never loses a hit the first stage found. text looks up a
// candidate's text by ID; a candidate without text is an error, since
// scoring it as irrelevant would silently hide it.
func NewReranker(score RerankScorer, text func(id string) (string, bool), depth int) Reranker {
	if depth <= 0 {
		depth = DefaultRerankDepth
	}
	return func(ctx context.Context, query string, hits []index.Hit) ([]index.Hit, error) {
		n := min(depth, len(hits))
		docs := make([]string, n)
		for i, h := range hits[:n] {
			t, ok := text(h.ID)
			if !ok {
				return nil, fmt.Errorf("no text for candidate %q", h.ID)
			}
			docs[i] = t
		}
		scores, err := score(ctx, query, docs)
		if err != nil {
			return nil, err
		}
		if len(scores) != n {
			return nil, fmt.Errorf("reranker returned %d scores for %d documents", len(scores), n)
		}
		out := make([]index.Hit, len(hits))
		copy(out, hits)
		for i := range n {
			out[i].Score = scores[i]
		}
		sort.SliceStable(out[:n], func(i, j int) bool { return out[i].Score > out[j].Score })
		return out, nil
	}
}

// RerankResults reorders knowledge-base results (from Store.Search asked
// for at least depth hits) by score over each chunk's context text and
// keeps the best k.
func RerankResults(ctx context.Context, score RerankScorer, query string, res []Result, depth, k int) ([]Result, error) {
	text := make(map[string]string, len(res))
	hits := make([]index.Hit, len(res))
	byID := make(map[string]Result, len(res))
	for i, r := range res {
		hits[i] = index.Hit{ID: r.ID, Score: r.Score}
		text[r.ID] = r.Chunk.ContextText()
		byID[r.ID] = r
	}
	ranked, err := NewReranker(score, func(id string) (string, bool) { t, ok := text[id]; return t, ok }, depth)(ctx, query, hits)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	out := make([]Result, 0, min(k, len(ranked)))
	for _, h := range ranked {
		if len(out) == k {
			break
		}
		r := byID[h.ID]
		r.Score = h.Score
		out = append(out, r)
	}
	return out, nil
}

// rerankBatch bounds how many documents one remote request carries;
// servers cap request sizes (TEI's default max batch is 32… 512) and a
// cross-encoder's scores do not depend on which batch a pair is in.
const rerankBatch = 64

// RemoteReranker calls a Jina/Cohere-style POST {baseURL}/v1/rerank, the
// API llama.cpp's server, TEI and Xinference serve: request {model,
// query, documents, top_n}, response {results: [{index,
// relevance_score}]}. baseURL may end in /v1 or not; apiKey may be empty;
// client nil uses http.DefaultClient.
func RemoteReranker(baseURL, model, apiKey string, client *http.Client) RerankScorer {
	c := openai.NewClient(strings.TrimSuffix(strings.TrimRight(baseURL, "/"), "/rerank"), apiKey, client)
	return func(ctx context.Context, query string, docs []string) ([]float64, error) {
		out := make([]float64, 0, len(docs))
		for start := 0; start < len(docs); start += rerankBatch {
			s, err := c.Rerank(ctx, model, query, docs[start:min(start+rerankBatch, len(docs))])
			if err != nil {
				return nil, fmt.Errorf("rerank: %w", err)
			}
			out = append(out, s...)
		}
		return out, nil
	}
}

// StoreReranker is a Retriever stage over a knowledge base's chunks: it
// reads each candidate's context text (title or headings, then the chunk,
// as the chunk was indexed) from s by chunk ID, or for a knowledge base
// stored in Weaviate, from the candidates the search returned.
func StoreReranker(s *Store, score RerankScorer, depth int) Reranker {
	return func(ctx context.Context, query string, hits []index.Hit) ([]index.Hit, error) {
		return NewReranker(score, func(id string) (string, bool) {
			if t, ok := candidateText(ctx, id); ok {
				return t, true
			}
			return storeChunkText(s, id)
		}, depth)(ctx, query, hits)
	}
}

// storeChunkText reads a chunk's context text from s's local records.
func storeChunkText(s *Store, id string) (string, bool) {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return "", false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return "", false
	}
	d, ok := s.Doc(id[:i])
	if !ok || n < 0 || n >= len(d.Chunks) {
		return "", false
	}
	return d.Chunks[n].ContextText(), true
}
