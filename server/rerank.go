package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"

	"ragtune/openai"
	"ragtune/rag"
)

// maxRerankDocs bounds one /v1/rerank request: a cross-encoder pass per
// document is the cost, and a client ranking more than this is better
// served by retrieval first.
const maxRerankDocs = 1000

// rerankers holds the scorers knowledge bases name, one per distinct
// configuration, so a local cross-encoder loads once for the server's
// life rather than once per query. Calls to one scorer are serialized: a
// local model's forward pass already uses every core, and this keeps a
// scorer that is not safe for concurrent use safe.
type rerankers struct {
	mu sync.Mutex
	m  map[rag.RerankConfig]*lockedScorer
}

type lockedScorer struct {
	mu    sync.Mutex
	score rag.RerankScorer
}

func (l *lockedScorer) Score(ctx context.Context, query string, docs []string) ([]float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.score(ctx, query, docs)
}

func (r *rerankers) get(c rag.RerankConfig) rag.RerankScorer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[rag.RerankConfig]*lockedScorer{}
	}
	key := c
	key.Depth = 0 // the depth is the query's business, not the model's
	ls, ok := r.m[key]
	if !ok {
		ls = &lockedScorer{score: c.Scorer()}
		r.m[key] = ls
	}
	return ls.Score
}

// kbReranker is the second stage a knowledge base records (ragtune ingest
// --rerank-path/--rerank-url), or nil when it records none, the request
// turned it off, or the record cannot be read (logged; retrieval goes on
// without it, as 'ragtune ask' does).
func (s *Server) kbReranker(h *kbHandle, off bool) rag.Reranker {
	if off {
		return nil
	}
	c, err := rag.ReadRerankConfig(h.store.Dir())
	if err != nil {
		s.log.Warn("knowledge base reranker record unreadable; searching without reranking", "kb", h.name, "err", err)
		return nil
	}
	if c == nil {
		return nil
	}
	return rag.StoreReranker(h.store, s.rerankers.get(*c), c.Depth)
}

// handleRerank is POST /v1/rerank in the Jina/Cohere form (llama.cpp's
// server, TEI and Xinference speak it): the request's documents scored
// against its query by the server's cross-encoder, best first, top_n of
// them (all when top_n is 0).
func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req openai.RerankRequest
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if s.cfg.Rerank == nil {
		writeError(w, http.StatusNotImplemented, openai.TypeInvalidRequest,
			"this server has no reranker: start 'ragtune serve' with --rerank-path DIR (a bge-reranker style cross-encoder or a Qwen3-Reranker) to serve /v1/rerank",
			"model", "rerank_not_configured")
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "query is required", "query", "")
		return
	}
	if len(req.Documents) == 0 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "documents must be a non-empty list of strings", "documents", "")
		return
	}
	if len(req.Documents) > maxRerankDocs {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest,
			fmt.Sprintf("%d documents; at most %d per request (split the list, or retrieve fewer candidates first)", len(req.Documents), maxRerankDocs), "documents", "")
		return
	}
	if req.TopN < 0 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "top_n must be 0 (all) or positive", "top_n", "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	scores, err := s.cfg.Rerank(ctx, req.Query, req.Documents)
	if err == nil && len(scores) != len(req.Documents) {
		err = fmt.Errorf("reranker returned %d scores for %d documents", len(scores), len(req.Documents))
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		s.log.Warn("rerank failed", "err", s.redact(err.Error()))
		writeError(w, http.StatusInternalServerError, openai.TypeServer, "reranking failed: "+s.redact(err.Error()), "", "")
		return
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	if req.TopN > 0 && req.TopN < len(order) {
		order = order[:req.TopN]
	}
	resp := openai.RerankResponse{Model: s.cfg.RerankModel, Results: make([]openai.RerankResult, 0, len(order))}
	for _, i := range order {
		v := scores[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			writeError(w, http.StatusInternalServerError, openai.TypeServer, fmt.Sprintf("reranker gave document %d a non-finite score", i), "", "")
			return
		}
		res := openai.RerankResult{Index: i, RelevanceScore: &v}
		if req.ReturnDocuments {
			res.Document = &openai.RerankDocument{Text: req.Documents[i]}
		}
		resp.Results = append(resp.Results, res)
	}
	writeJSON(w, http.StatusOK, resp)
}
