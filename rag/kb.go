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
	// Store is where a new knowledge base keeps its chunks: nil for this
	// directory, or a Weaviate collection. For an existing knowledge base
	// nil means "as recorded"; a stated one must agree with the record.
	Store *RemoteConfig
}

// Config is the StoreConfig of a new knowledge base with these settings,
// the defaults filled in.
func (s KBSettings) Config() StoreConfig {
	cfg := StoreConfig{Name: s.Name, ChunkSize: DefaultChunkSize, Overlap: DefaultOverlap, VectorIndex: s.VectorIndex, Embedding: s.Embedding, Store: s.Store}
	if s.ChunkSize > 0 {
		cfg.ChunkSize = s.ChunkSize
	}
	if s.Overlap >= 0 {
		cfg.Overlap = s.Overlap
	}
	if st := s.Store; st != nil {
		cfg.Store = nil
		if st.Kind != StoreEmbedded {
			rc := *st
			if rc.Class == "" {
				rc.Class = WeaviateClassFor(s.Name)
			}
			cfg.Store = &rc
		}
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
	if err := sameStore(s.Name, s.Store, cfg.Store); err != nil {
		return nil, false, err
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

// sameStore checks a stated store against a knowledge base's record. An
// existing knowledge base cannot move between stores (its chunks would
// stay behind), and a different address or replication factor is refused
// rather than silently ignored.
func sameStore(name string, stated, recorded *RemoteConfig) error {
	switch {
	case stated == nil:
		return nil
	case stated.Kind == StoreEmbedded && recorded == nil:
		return nil
	case stated.Kind == StoreEmbedded:
		return cli.Usagef("knowledge base %s is stored in Weaviate (%s); leave out --store, or ingest into a new knowledge base", name, recorded.URL)
	case recorded == nil:
		return cli.Usagef("knowledge base %s is embedded (stored in its directory); to move it to Weaviate, ingest into a new knowledge base with --store weaviate", name)
	case stated.Class != "" && stated.Class != recorded.Class:
		return cli.Usagef("knowledge base %s is stored in Weaviate class %s, not %s", name, recorded.Class, stated.Class)
	case stated.URL != "" && stated.URL != recorded.URL:
		return cli.Usagef("knowledge base %s is stored in Weaviate at %s; leave out --weaviate-url (or, when the cluster moved, edit \"store\".\"url\" in its kb.json)", name, recorded.URL)
	case stated.Replication > 0 && stated.Replication != max(recorded.Replication, 1):
		return cli.Usagef("knowledge base %s was created with replication %d; Weaviate changes a collection's replication factor through its own schema API, not through ingest", name, max(recorded.Replication, 1))
	}
	return nil
}
