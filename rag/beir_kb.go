package rag

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// KBEvalOptions configure measuring a knowledge base against BEIR-layout
// queries and qrels whose corpus ids name the knowledge base's source
// files.
type KBEvalOptions struct {
	Query       Query        // Mode, Fusion, Filter; Text and K are set per query
	Rerank      RerankScorer // optional
	RerankDepth int          // candidates rescored; DefaultRerankDepth when 0
}

// RunStore searches every judged query in s and scores the ranking of
// source files (each file counted at its best chunk). A qrels id matches
// a stored path when equal to it, to a path suffix after a separator, or
// to its base name when that is unique; ids matching no file are added to
// set.MissingDocs.
func (set *BEIRSet) RunStore(ctx context.Context, s *Store, o KBEvalOptions) (RetrievalMetrics, error) {
	paths := s.Paths()
	resolve := matchPaths(paths)
	miss := map[string]bool{}
	for _, id := range set.MissingDocs {
		miss[id] = true
	}
	queries := set.Queries[:0:0]
	for _, q := range set.Queries {
		rel := map[string]int{}
		for id, g := range q.Rel {
			p, ok := resolve(id)
			if !ok {
				miss[id] = true
				continue
			}
			rel[p] = max(rel[p], g)
		}
		if len(rel) == 0 {
			set.NoQrels++
			continue
		}
		queries = append(queries, BEIRQuery{ID: q.ID, Text: q.Text, Rel: rel})
	}
	set.Queries = queries
	set.MissingDocs = sortedKeys(miss)
	depth := o.RerankDepth
	if depth <= 0 {
		depth = DefaultRerankDepth
	}
	m, err := set.Evaluate(func(q BEIRQuery) ([]string, error) {
		sq := o.Query
		sq.Text = q.Text
		// Files, not chunks, are ranked: ask for enough chunks that ten
		// distinct files usually appear.
		sq.K = 50
		if o.Rerank != nil {
			sq.K = max(sq.K, depth)
		}
		res, err := s.Search(ctx, sq)
		if err != nil {
			return nil, err
		}
		if o.Rerank != nil {
			if res, err = RerankResults(ctx, o.Rerank, q.Text, res, depth, len(res)); err != nil {
				return nil, err
			}
		}
		var ranking []string
		seen := map[string]bool{}
		for _, r := range res {
			if p := r.Chunk.Source; !seen[p] {
				seen[p] = true
				ranking = append(ranking, p)
			}
		}
		return ranking, nil
	})
	m.Chunks = len(paths)
	return m, err
}

// matchPaths resolves qrels document ids to stored paths.
func matchPaths(paths []string) func(id string) (string, bool) {
	exact := map[string]bool{}
	base := map[string][]string{}
	for _, p := range paths {
		exact[p] = true
		b := filepath.Base(p)
		base[b] = append(base[b], p)
	}
	return func(id string) (string, bool) {
		id = filepath.Clean(id)
		if exact[id] {
			return id, true
		}
		var hit string
		n := 0
		for _, p := range paths {
			if strings.HasSuffix(p, string(filepath.Separator)+id) {
				hit = p
				n++
			}
		}
		if n == 1 {
			return hit, true
		}
		if b := base[id]; n == 0 && len(b) == 1 {
			return b[0], true
		}
		return "", false
	}
}

// String summarizes what loading skipped, for printing under the scores.
func (set *BEIRSet) String() string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%d queries judged, %d without qrels skipped", len(set.Queries), set.NoQrels))
	if n := len(set.MissingDocs); n > 0 {
		parts = append(parts, fmt.Sprintf("%d qrels document ids not found (first: %s)", n, set.MissingDocs[0]))
	}
	if n := len(set.MissingQueries); n > 0 {
		parts = append(parts, fmt.Sprintf("%d qrels query ids not in the queries file (first: %s)", n, set.MissingQueries[0]))
	}
	return strings.Join(parts, "; ")
}
