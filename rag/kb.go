package rag

import (
	"errors"
	"os"
	"path/filepath"

	"ragtune/internal/cli"
)

// The chunking of a knowledge base created without saying otherwise.
const (
	DefaultChunkSize = 512 // characters
	DefaultOverlap   = 64  // characters
)

// KBSettings is how a knowledge base is created when it does not exist,
// and what an existing one must agree with when the caller states it.
type KBSettings struct {
	Name      string
	ChunkSize int // 0: DefaultChunkSize (an existing knowledge base: not checked)
	// Overlap < 0: DefaultOverlap (an existing knowledge base: not checked).
	// Zero is a real setting: chunks without overlap.
	Overlap     int
	VectorIndex string           // "flat" (or empty) or "hnsw", for a new knowledge base
	Embedding   *EmbeddingConfig // nil: BM25 only; Path should be absolute
}

// Config is the StoreConfig of a new knowledge base with these settings,
// the defaults filled in.
func (s KBSettings) Config() StoreConfig {
	cfg := StoreConfig{Name: s.Name, ChunkSize: DefaultChunkSize, Overlap: DefaultOverlap, VectorIndex: s.VectorIndex, Embedding: s.Embedding}
	if s.ChunkSize > 0 {
		cfg.ChunkSize = s.ChunkSize
	}
	if s.Overlap >= 0 {
		cfg.Overlap = s.Overlap
	}
	return cfg
}

// OpenOrCreate opens the knowledge base in dir for writing, or creates it
// from s when dir holds none (created is then true). An existing knowledge
// base keeps its chunking and embedding: settings that state other ones
// are a usage error (cli.ErrUsage) that says how to change them, since
// mixing chunkings or vector spaces in one index would corrupt retrieval.
func OpenOrCreate(dir string, s KBSettings) (st *Store, created bool, err error) {
	cfg, err := ReadStoreConfig(dir)
	switch {
	case errors.Is(err, ErrNoKB):
		cfg = s.Config()
		if cfg.Overlap >= cfg.ChunkSize {
			return nil, false, cli.Usagef("--overlap (%d) must be smaller than --chunk-size (%d)", cfg.Overlap, cfg.ChunkSize)
		}
		st, err := CreateStore(dir, cfg)
		return st, err == nil, err
	case err != nil:
		return nil, false, err
	}
	if (s.ChunkSize > 0 && s.ChunkSize != cfg.ChunkSize) || (s.Overlap >= 0 && s.Overlap != cfg.Overlap) {
		return nil, false, cli.Usagef("knowledge base %s chunks at %d/%d characters; to change that, 'ragtune kb delete --kb %s' and ingest again", s.Name, cfg.ChunkSize, cfg.Overlap, s.Name)
	}
	if e := s.Embedding; e != nil && (cfg.Embedding == nil ||
		(e.URL != "" && cfg.Embedding.URL != e.URL) || (e.Path != "" && !samePath(cfg.Embedding.Path, e.Path))) {
		return nil, false, cli.Usagef("knowledge base %s was created with a different embedding setting; delete it to change embeddings", s.Name)
	}
	st, err = OpenStore(dir, nil, false)
	return st, false, err
}

// Failures are the inputs of an ingest that failed: every file that could
// not be read, and a file named in inputs that was skipped (its type is
// not supported). Files skipped inside a folder are the folder's business.
func (r *IngestReport) Failures(inputs []string) []IngestEvent {
	named := map[string]bool{}
	for _, a := range inputs {
		if st, err := os.Stat(a); err == nil && !st.IsDir() {
			if abs, err := filepath.Abs(a); err == nil {
				named[abs] = true
			}
		}
	}
	var out []IngestEvent
	for _, p := range r.Problems {
		abs, _ := filepath.Abs(p.Path)
		if p.Action == "failed" || (p.Action == "skipped" && named[abs]) {
			out = append(out, p)
		}
	}
	return out
}

// samePath reports whether two paths name the same file after making
// them absolute.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
