package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"text/tabwriter"
	"time"

	"ragtune/rag"
)

func init() {
	registerSub("kb", "list", "list knowledge bases", runKBList)
	registerSub("kb", "stats", "show documents, chunks and index sizes of a knowledge base", runKBStats)
	registerSub("kb", "delete", "delete a knowledge base", runKBDelete)
}

// defaultKBRoot is where knowledge bases live unless --kb-dir says
// otherwise: $RAGTUNE_HOME/kb, else ~/.ragtune/kb.
func defaultKBRoot() string {
	if h := os.Getenv("RAGTUNE_HOME"); h != "" {
		return filepath.Join(h, "kb")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ragtune", "kb")
	}
	return filepath.Join(".ragtune", "kb")
}

// kbFlags adds the flags every knowledge-base command shares.
func kbFlags(fs *flag.FlagSet) (name, root *string) {
	name = fs.String("kb", "", "knowledge base `NAME`")
	root = fs.String("kb-dir", defaultKBRoot(), "`DIR` holding knowledge bases")
	return name, root
}

var kbNameRe = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N}._-]*$`)

// kbDir validates a knowledge base name and returns its directory.
func kbDir(root, name string) (string, error) {
	if name == "" {
		return "", usageErrorf("--kb NAME is required")
	}
	if !kbNameRe.MatchString(name) {
		return "", usageErrorf("knowledge base name %q: use letters, digits, '.', '_' and '-' (no slashes)", name)
	}
	return filepath.Join(root, name), nil
}

func runKBList(args []string) error {
	fs := newFlagSet("kb list", "[--kb-dir DIR] [--json]", "Lists the knowledge bases under --kb-dir.")
	root := fs.String("kb-dir", defaultKBRoot(), "`DIR` holding knowledge bases")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	entries, err := os.ReadDir(*root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("list knowledge bases: %w", err)
	}
	type row struct {
		Name   string `json:"name"`
		Dir    string `json:"dir"`
		Docs   int    `json:"docs"`
		Chunks int    `json:"chunks"`
		Store  string `json:"store"`
	}
	var rows []row
	for _, e := range entries {
		dir := filepath.Join(*root, e.Name())
		if _, err := rag.ReadStoreConfig(dir); err != nil {
			continue
		}
		s, err := rag.OpenStore(dir, nil, true)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ragtune: %s: %v\n", e.Name(), err)
			continue
		}
		st := s.Stats()
		s.Close()
		rows = append(rows, row{e.Name(), dir, st.Docs, st.Chunks, st.Store})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	if *asJSON {
		if rows == nil {
			rows = []row{}
		}
		return json.NewEncoder(os.Stdout).Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(os.Stderr, "no knowledge bases in %s (create one with 'ragtune ingest --kb NAME PATH...')\n", *root)
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDOCS\tCHUNKS\tSTORE\tDIR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Name, r.Docs, r.Chunks, r.Store, r.Dir)
	}
	return tw.Flush()
}

func runKBStats(args []string) error {
	fs := newFlagSet("kb stats", "--kb NAME [--kb-dir DIR] [--json] [--docs]", "Shows a knowledge base's configuration and sizes.")
	name, root := kbFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	listDocs := fs.Bool("docs", false, "also list the ingested files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" && fs.NArg() == 1 {
		*name = fs.Arg(0)
	}
	dir, err := kbDir(*root, *name)
	if err != nil {
		return err
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return kbOpenError(err, *name)
	}
	defer s.Close()
	st, cfg := s.Stats(), s.Config()
	if *asJSON {
		out := map[string]any{"name": *name, "dir": dir, "config": cfg, "docs": st.Docs, "chunks": st.Chunks,
			"chars": st.Chars, "vector_dim": st.VectorDim, "vector_index": st.VectorIndex, "wal_bytes": st.WALBytes, "store": st.Store}
		if rc := cfg.Store; rc != nil {
			out["weaviate"] = remoteStats(s, rc)
		}
		if rc, err := rag.ReadRerankConfig(dir); err == nil && rc != nil {
			out["reranker"] = rc
		}
		if cfg.Embedding != nil {
			out["query_instruction"] = rag.QueryInstruction(cfg.Embedding.Path + cfg.Embedding.Model)
		}
		if *listDocs {
			out["files"] = s.Paths()
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Printf("knowledge base  %s (%s)\n", *name, dir)
	fmt.Printf("created         %s\n", cfg.Created.Format("2006-01-02 15:04:05 MST"))
	fmt.Printf("store           %s\n", st.Store)
	if rc := cfg.Store; rc != nil {
		r := remoteStats(s, rc)
		fmt.Printf("weaviate        %s, collection %s, replication %d, consistency %s\n", rc.URL, rc.Class, r["replication"], r["consistency"])
		if e, ok := r["error"]; ok {
			fmt.Printf("                (cannot count its objects: %v)\n", e)
		} else {
			fmt.Printf("                %d objects in the collection\n", r["objects"])
		}
	}
	fmt.Printf("documents       %d\nchunks          %d\ncharacters      %d\n", st.Docs, st.Chunks, st.Chars)
	fmt.Printf("chunking        %d characters, overlap %d\n", cfg.ChunkSize, cfg.Overlap)
	fmt.Printf("bm25            k1 %.2f b %.2f, %s\n", cfg.BM25.K1, cfg.BM25.B, cfg.Analyzer)
	if cfg.Embedding != nil {
		fmt.Printf("embeddings      %s model %q, %d dimensions, %s index\n", cfg.Embedding.URL, cfg.Embedding.Model, st.VectorDim, st.VectorIndex)
	} else {
		fmt.Printf("embeddings      none (bm25 retrieval only)\n")
	}
	if cfg.Embedding != nil {
		printQueryInstruction(cfg.Embedding.Path + cfg.Embedding.Model)
	}
	printKBReranker(dir)
	fmt.Printf("unsnapshotted   %d bytes of write-ahead log\n", st.WALBytes)
	if *listDocs {
		for _, p := range s.Paths() {
			fmt.Println("  ", p)
		}
	}
	return nil
}

func runKBDelete(args []string) error {
	fs := newFlagSet("kb delete", "--kb NAME [--kb-dir DIR]", "Deletes a knowledge base directory and everything in it.")
	name, root := kbFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" && fs.NArg() == 1 {
		*name = fs.Arg(0)
	}
	dir, err := kbDir(*root, *name)
	if err != nil {
		return err
	}
	if _, err := rag.ReadStoreConfig(dir); err != nil {
		return kbOpenError(err, *name)
	}
	// Take the writer lock so an ingest in progress is not deleted under it.
	s, err := rag.OpenStore(dir, nil, false)
	if err != nil {
		return err
	}
	// A Weaviate collection goes first: were it to fail, the knowledge
	// base stays, and deleting it again retries.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.DropRemote(ctx); err != nil {
		s.Close()
		return fmt.Errorf("delete knowledge base %s: %w (nothing was deleted; try again when Weaviate answers)", *name, err)
	}
	s.Close()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete knowledge base %s: %w", *name, err)
	}
	fmt.Fprintf(os.Stderr, "deleted knowledge base %s (%s)\n", *name, dir)
	return nil
}

// remoteStats describes a knowledge base's Weaviate collection, asking
// the server for its object count.
func remoteStats(s *rag.Store, rc *rag.RemoteConfig) map[string]any {
	out := map[string]any{"url": rc.URL, "class": rc.Class, "replication": max(rc.Replication, 1), "consistency": rc.Consistency}
	if rc.Consistency == "" {
		out["consistency"] = rag.DefaultConsistency
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, _, err := s.RemoteCount(ctx); err != nil {
		out["error"] = err.Error()
	} else {
		out["objects"] = n
	}
	return out
}

// kbOpenError turns a missing knowledge base into advice.
func kbOpenError(err error, name string) error {
	if errors.Is(err, rag.ErrNoKB) {
		return fmt.Errorf("knowledge base %q not found (see 'ragtune kb list'; create it with 'ragtune ingest --kb %s PATH...')", name, name)
	}
	return err
}
