package rag

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"ragtune/internal/atomicfile"
)

// RerankConfig names a knowledge base's reranker, the way EmbeddingConfig
// names its embedder, so ask, serve and eval rerank with the model the
// knowledge base was set up with unless told otherwise. Exactly one of
// Path (a local cross-encoder) and URL (a /v1/rerank server) is set.
type RerankConfig struct {
	Path  string `json:"path,omitempty"`
	URL   string `json:"url,omitempty"`
	Model string `json:"model,omitempty"` // sent to URL
	Depth int    `json:"depth,omitempty"` // candidates rescored; DefaultRerankDepth when 0
}

// rerankConfigFile lives next to the store's own files; it is separate
// from the store configuration because a reranker can be set or changed
// at any time without touching the index.
const rerankConfigFile = "rerank.json"

// ReadRerankConfig returns the reranker recorded in the knowledge base at
// dir, or nil when it has none.
func ReadRerankConfig(dir string) (*RerankConfig, error) {
	data, err := os.ReadFile(filepath.Join(dir, rerankConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read reranker config: %w", err)
	}
	var c RerankConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse %s: %w (fix or delete the file)", filepath.Join(dir, rerankConfigFile), err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, rerankConfigFile), err)
	}
	return &c, nil
}

// WriteRerankConfig records c in the knowledge base at dir (atomically);
// c nil removes the record.
func WriteRerankConfig(dir string, c *RerankConfig) error {
	path := filepath.Join(dir, rerankConfigFile)
	if c == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove reranker config: %w", err)
		}
		return nil
	}
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write reranker config: %w", err)
	}
	return nil
}

// Validate checks that exactly one reranker source is named.
func (c *RerankConfig) Validate() error {
	if (c.Path == "") == (c.URL == "") {
		return errors.New("a reranker needs exactly one of a local model path and a /v1/rerank URL")
	}
	if c.Depth < 0 {
		return fmt.Errorf("rerank depth %d must be positive", c.Depth)
	}
	return nil
}

// Scorer returns the configured reranker; a local model loads on first
// use. The API key of a remote one comes from RAGTUNE_RERANK_API_KEY.
func (c *RerankConfig) Scorer() RerankScorer {
	if c.Path != "" {
		return LocalCrossEncoder(c.Path)
	}
	return RemoteReranker(c.URL, c.Model, os.Getenv("RAGTUNE_RERANK_API_KEY"), nil)
}
