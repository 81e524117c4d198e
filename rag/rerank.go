package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"ragtune/index"
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
	if client == nil {
		client = http.DefaultClient
	}
	url := strings.TrimRight(baseURL, "/")
	url = strings.TrimSuffix(url, "/rerank")
	if !strings.HasSuffix(url, "/v1") {
		url += "/v1"
	}
	url += "/rerank"
	call := func(ctx context.Context, query string, docs []string) ([]float64, error) {
		req := map[string]any{"query": query, "documents": docs, "top_n": len(docs)}
		if model != "" {
			req["model"] = model
		}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("rerank request: %w", err)
		}
		hreq.Header.Set("Content-Type", "application/json")
		if apiKey != "" {
			hreq.Header.Set("Authorization", "Bearer "+apiKey)
		}
		resp, err := client.Do(hreq)
		if err != nil {
			return nil, fmt.Errorf("rerank request to %s: %w", url, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("rerank response from %s: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("rerank request to %s: %s: %s", url, resp.Status, strings.TrimSpace(string(data[:min(len(data), 300)])))
		}
		var r struct {
			Results []struct {
				Index int      `json:"index"`
				Score *float64 `json:"relevance_score"`
			} `json:"results"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("rerank response from %s is not the /v1/rerank format: %w", url, err)
		}
		scores := make([]float64, len(docs))
		got := make([]bool, len(docs))
		for _, x := range r.Results {
			if x.Index < 0 || x.Index >= len(docs) || got[x.Index] || x.Score == nil || math.IsNaN(*x.Score) {
				return nil, fmt.Errorf("rerank response from %s: bad result for document index %d", url, x.Index)
			}
			scores[x.Index], got[x.Index] = *x.Score, true
		}
		for i, ok := range got {
			if !ok {
				return nil, fmt.Errorf("rerank response from %s has no score for document %d of %d (the server may cap top_n)", url, i, len(docs))
			}
		}
		return scores, nil
	}
	return func(ctx context.Context, query string, docs []string) ([]float64, error) {
		out := make([]float64, 0, len(docs))
		for start := 0; start < len(docs); start += rerankBatch {
			s, err := call(ctx, query, docs[start:min(start+rerankBatch, len(docs))])
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
}

// StoreReranker is a Retriever stage over a knowledge base's chunks: it
// reads each candidate's context text (title or headings, then the chunk,
// as the chunk was indexed) from s by chunk ID.
func StoreReranker(s *Store, score RerankScorer, depth int) Reranker {
	return NewReranker(score, func(id string) (string, bool) {
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
	}, depth)
}
