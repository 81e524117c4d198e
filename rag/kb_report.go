package rag

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
)

// KBListing is one knowledge base as 'ragtune kb list' shows it (and
// prints with --json).
type KBListing struct {
	Name   string `json:"name"`
	Dir    string `json:"dir"`
	Docs   int    `json:"docs"`
	Chunks int    `json:"chunks"`
	Store  string `json:"store"`
}

// ListKBs lists the knowledge bases under root, by name; a missing root
// holds none. One that cannot be opened is named on warn and left out,
// so a broken knowledge base does not hide the others.
func ListKBs(root string, warn io.Writer) ([]KBListing, error) {
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list knowledge bases: %w", err)
	}
	var rows []KBListing
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if _, err := ReadStoreConfig(dir); err != nil {
			continue
		}
		s, err := OpenStore(dir, nil, true)
		if err != nil {
			fmt.Fprintf(warn, "ragtune: %s: %v\n", e.Name(), err)
			continue
		}
		st := s.Stats()
		s.Close()
		rows = append(rows, KBListing{e.Name(), dir, st.Docs, st.Chunks, st.Store})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

// WriteKBTable writes the listing as 'ragtune kb list' prints it: a
// header and one aligned row per knowledge base.
func WriteKBTable(w io.Writer, rows []KBListing) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDOCS\tCHUNKS\tSTORE\tDIR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Name, r.Docs, r.Chunks, r.Store, r.Dir)
	}
	return tw.Flush()
}

// StatsReport is the knowledge base as 'ragtune kb stats --json' prints
// it: configuration, counts and sizes, the Weaviate collection
// (RemoteStats), the recorded reranker, the query instruction of its
// embedder and, with files, the ingested files.
func (s *Store) StatsReport(name string, files bool) map[string]any {
	st, cfg := s.Stats(), s.Config()
	out := map[string]any{"name": name, "dir": s.dir, "config": cfg, "docs": st.Docs, "chunks": st.Chunks,
		"chars": st.Chars, "vector_dim": st.VectorDim, "vector_index": st.VectorIndex, "wal_bytes": st.WALBytes, "store": st.Store}
	if cfg.Store != nil {
		out["weaviate"] = s.RemoteStats()
	}
	if rc, err := ReadRerankConfig(s.dir); err == nil && rc != nil {
		out["reranker"] = rc
	}
	if cfg.Embedding != nil {
		out["query_instruction"] = QueryInstruction(cfg.Embedding.Path + cfg.Embedding.Model)
	}
	if files {
		out["files"] = s.Paths()
	}
	return out
}

// WriteStats writes the knowledge base as 'ragtune kb stats' prints it:
// one labelled line per fact, then with files the ingested files.
func (s *Store) WriteStats(w io.Writer, name string, files bool) {
	st, cfg := s.Stats(), s.Config()
	fmt.Fprintf(w, "knowledge base  %s (%s)\n", name, s.dir)
	fmt.Fprintf(w, "created         %s\n", cfg.Created.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(w, "store           %s\n", st.Store)
	if rc := cfg.Store; rc != nil {
		r := s.RemoteStats()
		fmt.Fprintf(w, "weaviate        %s, collection %s, replication %d, consistency %s\n", rc.URL, rc.Class, r["replication"], r["consistency"])
		if e, ok := r["error"]; ok {
			fmt.Fprintf(w, "                (cannot count its objects: %v)\n", e)
		} else {
			fmt.Fprintf(w, "                %d objects in the collection\n", r["objects"])
		}
	}
	fmt.Fprintf(w, "documents       %d\nchunks          %d\ncharacters      %d\n", st.Docs, st.Chunks, st.Chars)
	fmt.Fprintf(w, "chunking        %d characters, overlap %d\n", cfg.ChunkSize, cfg.Overlap)
	fmt.Fprintf(w, "bm25            k1 %.2f b %.2f, %s\n", cfg.BM25.K1, cfg.BM25.B, cfg.Analyzer)
	if cfg.Embedding != nil {
		fmt.Fprintf(w, "embeddings      %s model %q, %d dimensions, %s index\n", cfg.Embedding.URL, cfg.Embedding.Model, st.VectorDim, st.VectorIndex)
		fmt.Fprintln(w, DescribeQueryInstruction(cfg.Embedding.Path+cfg.Embedding.Model))
	} else {
		fmt.Fprintf(w, "embeddings      none (bm25 retrieval only)\n")
	}
	fmt.Fprintln(w, DescribeReranker(s.dir))
	fmt.Fprintf(w, "unsnapshotted   %d bytes of write-ahead log\n", st.WALBytes)
	if files {
		for _, p := range s.Paths() {
			fmt.Fprintln(w, "  ", p)
		}
	}
}
