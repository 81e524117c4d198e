package rag

import (
	"fmt"
	"io"
	"path/filepath"

	"ragtune/internal/cli"
)

// RerankChoice is what a command was asked about reranking (the
// --rerank-path, --rerank-url, --rerank-model, --rerank-depth and
// --no-rerank flags ask, eval, compare and ingest share), before it is
// checked and turned into a RerankConfig.
type RerankChoice struct {
	Path, URL, Model string
	Depth            int
	None             bool // do not rerank, even where the knowledge base names a reranker
}

// Config returns the reranker the choice names, or nil; contradictory
// choices are usage errors.
func (o RerankChoice) Config() (*RerankConfig, error) {
	if o.Path != "" && o.URL != "" {
		return nil, cli.Usagef("--rerank-path and --rerank-url exclude each other")
	}
	if o.Depth <= 0 {
		return nil, cli.Usagef("--rerank-depth must be positive, got %d", o.Depth)
	}
	if o.None && (o.Path != "" || o.URL != "") {
		return nil, cli.Usagef("--no-rerank contradicts --rerank-path/--rerank-url")
	}
	if o.Path == "" && o.URL == "" {
		return nil, nil
	}
	return &RerankConfig{Path: o.Path, URL: o.URL, Model: o.Model, Depth: o.Depth}, nil
}

// Scorer returns the chosen reranker (nil when none) and its depth.
func (o RerankChoice) Scorer() (RerankScorer, int, error) {
	c, err := o.Config()
	if c == nil || err != nil {
		return nil, o.Depth, err
	}
	return c.Scorer(), c.Depth, nil
}

// Record stores the chosen reranker in the knowledge base at dir (a local
// path made absolute, so it works from any directory), or forgets the
// recorded one when None is set; without either it leaves the record
// alone.
func (o RerankChoice) Record(dir string) error {
	c, err := o.Config()
	if err != nil {
		return err
	}
	if o.None {
		return WriteRerankConfig(dir, nil)
	}
	if c == nil {
		return nil
	}
	if c.Path != "" {
		if c.Path, err = filepath.Abs(c.Path); err != nil {
			return err
		}
	}
	return WriteRerankConfig(dir, c)
}

// RecordedRerankScorer is the reranker the knowledge base s records, if
// any; a broken record is reported on warn and ignored rather than
// failing a search.
func RecordedRerankScorer(s *Store, warn io.Writer) (RerankScorer, int) {
	c, err := ReadRerankConfig(s.Dir())
	if err != nil {
		fmt.Fprintf(warn, "warning: %v; searching without reranking\n", err)
		return nil, 0
	}
	if c == nil {
		return nil, 0
	}
	return c.Scorer(), c.Depth
}
