package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
	"ragtune/internal/progress"
	"ragtune/rag"
)

func init() {
	register(&command{name: "ingest", summary: "add files and folders to a knowledge base (incremental, crash-safe)", run: runIngest})
}

// globList collects a repeatable flag.
type globList []string

func (g *globList) String() string { return strings.Join(*g, ",") }
func (g *globList) Set(s string) error {
	*g = append(*g, s)
	return nil
}

func runIngest(args []string) error {
	fs := newFlagSet("ingest", "--kb NAME [flags] PATH...", `
Reads .txt .md .html .json .jsonl .docx .pdf files (GBK/GB18030 text is
detected), splits them into chunks and indexes them. Re-running updates the
knowledge base: unchanged files (same content hash) are skipped, changed
ones re-indexed, and files that vanished from the given folders removed.
A file that cannot be read is named on stderr and the rest are ingested;
the exit code is then 1, and a first ingest that stored nothing removes
the knowledge base it created. A killed ingest keeps every document
committed before it was killed; run it again to finish.

The first ingest creates the knowledge base with the chunking, embedding
and store flags given; later runs reuse them.

With --store weaviate the chunks, their vectors and the BM25 index live in
a Weaviate collection (Chinese segmented by Weaviate's gse_ch tokenizer;
the server needs ENABLE_TOKENIZER_GSE_CH=true), and the knowledge base directory
keeps only one small record per file: ask, serve, eval, compare and kb
then work on it as on an embedded one. Reads and writes use consistency
level QUORUM; --replication sets the collection's replication factor.

Examples:
  ragtune ingest --kb docs ./handbook ./faq.md
  ragtune ingest --kb docs --include '*.md' --exclude 'drafts/*' ./handbook
  ragtune ingest --kb docs-dense --embed-path ./bge-small-zh --chunk-size 256 ./handbook
  ragtune ingest --kb big --store weaviate --weaviate-url http://10.0.0.5:8080 --replication 3 ./corpus`)
	name, root := kbFlags(fs)
	var include, exclude globList
	fs.Var(&include, "include", "only files matching this `GLOB` (repeatable; 'docs/*', '*.md', '**/faq_*.txt')")
	fs.Var(&exclude, "exclude", "skip files matching this `GLOB` (repeatable)")
	chunkSize := fs.Int("chunk-size", 0, "chunk size in characters (new knowledge base; default 512)")
	overlap := fs.Int("overlap", -1, "characters of overlap between chunks (new knowledge base; default 64)")
	embedURL := fs.String("embed-url", "", "OpenAI-compatible embeddings server `URL` (new knowledge base): enables dense and hybrid retrieval")
	embedModel := fs.String("embed-model", "", "embedding model `NAME` sent to the server")
	embedPath := fs.String("embed-path", "", "local BERT/bge encoder: HF `DIR` or bert .gguf (new knowledge base): enables dense and hybrid retrieval")
	vectorIndex := fs.String("index", "flat", "vector `INDEX` for a new knowledge base: flat (exact) or hnsw")
	jsonFields := fs.String("json-fields", "", "comma-separated `FIELDS` (string fields) of .json/.jsonl records to index (default: all)")
	storeKind := fs.String("store", "", "`STORE` where a new knowledge base keeps its chunks: embedded (its directory; the default) or weaviate")
	weaviateURL := fs.String("weaviate-url", os.Getenv("RAGTUNE_WEAVIATE_URL"), "Weaviate REST `URL` for --store weaviate; several nodes of one cluster comma-separated (default $RAGTUNE_WEAVIATE_URL)")
	weaviateKey := fs.String("weaviate-api-key", "", "Weaviate API `key` (default $"+rag.WeaviateAPIKeyEnv+", which later commands read too; the key is never written to disk)")
	weaviateClass := fs.String("weaviate-class", "", "Weaviate collection `NAME` for a new knowledge base (default Ragtune_ and the knowledge base name)")
	replication := fs.Int("replication", 0, "replication factor of a new Weaviate collection (default 1; needs that many nodes)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	rr := rerankFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := rag.KBDir(*root, *name)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("ingest needs at least one file or folder")
	}
	if *vectorIndex != "flat" && *vectorIndex != "hnsw" {
		return usageErrorf("--index must be flat or hnsw, got %q", *vectorIndex)
	}
	var c cli.Checks
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "chunk-size":
			c.Check(*chunkSize > 0, "--chunk-size must be > 0, not %d", *chunkSize)
		case "overlap":
			c.Check(*overlap >= 0, "--overlap must be >= 0, not %d", *overlap)
		}
	})
	if err := c.Err(); err != nil {
		return err
	}
	// Every named input must exist before a knowledge base is created
	// for it.
	var missing []string
	for _, p := range fs.Args() {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ingest: %s not found: %s (nothing was ingested)", plural.Noun(len(missing), "input"), strings.Join(missing, ", "))
	}
	if _, err := rr.Config(); err != nil {
		return err
	}
	if *embedURL != "" && *embedPath != "" {
		return usageErrorf("--embed-url and --embed-path exclude each other")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	store, err := rag.StoreChoice{Kind: *storeKind, URL: *weaviateURL, Key: *weaviateKey, Class: *weaviateClass,
		Replication: *replication, Given: func(f string) bool { return given[f] }}.Config()
	if err != nil {
		return err
	}
	set := rag.KBSettings{Name: *name, ChunkSize: *chunkSize, Overlap: *overlap, VectorIndex: *vectorIndex, Store: store}
	if *embedURL != "" {
		set.Embedding = &rag.EmbeddingConfig{URL: *embedURL, Model: *embedModel}
	}
	if *embedPath != "" {
		abs, err := filepath.Abs(*embedPath)
		if err != nil {
			return err
		}
		set.Embedding = &rag.EmbeddingConfig{Path: abs}
	}
	s, created, err := rag.OpenOrCreate(dir, set)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	if err := rr.Record(dir); err != nil {
		return err
	}

	opts := rag.IngestOptions{Include: include, Exclude: exclude}
	if *jsonFields != "" {
		opts.Extract.JSONFields = strings.Split(*jsonFields, ",")
	}
	var bar *progressbar.ProgressBar
	progressOut := progress.ForStderr()
	opts.Progress = func(e rag.IngestEvent) {
		if e.Err != nil {
			if bar != nil {
				bar.Clear()
			}
			fmt.Fprintf(os.Stderr, "%s: %v\n", e.Action, e.Err)
		}
		if *quiet {
			return
		}
		if bar == nil {
			bar = progress.CountBar(progressOut, int64(e.Total), "ingesting")
		}
		if e.Action != "removed" {
			bar.Set(e.Done)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rep, err := s.Ingest(ctx, fs.Args(), opts)
	if bar != nil {
		bar.Finish()
	}
	progress.Flush(progressOut)
	if err != nil {
		return fmt.Errorf("ingest into %s: %w (documents committed so far are kept; run again to continue)", *name, err)
	}
	st := s.Stats()
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "%d added, %d updated, %d unchanged, %d removed, %d skipped, %d failed; %s written in %.1fs (%.0f chunks/s); knowledge base %s: %s, %s\n",
		rep.Added, rep.Updated, rep.Unchanged, rep.Removed, rep.Skipped, rep.Failed, plural.Count(rep.Chunks, "chunk"), el.Seconds(), float64(rep.Chunks)/max(el.Seconds(), 1e-9), *name, plural.Count(st.Docs, "document"), plural.Count(st.Chunks, "chunk"))
	// A knowledge base this run created and left empty is removed, so a
	// failed first ingest leaves nothing behind.
	removed := ""
	if created && st.Docs > 0 {
		fmt.Fprintf(os.Stderr, "created knowledge base %s in %s\n", *name, dir)
		if rc := s.Config().Store; rc != nil {
			fmt.Fprintf(os.Stderr, "its chunks are in Weaviate at %s, collection %s (replication %d)\n", rc.URL, rc.Class, max(rc.Replication, 1))
		}
	}
	if created && st.Docs == 0 {
		closed = true
		if err := s.RemoveEmpty(os.Stderr); err != nil {
			return err
		}
		removed = fmt.Sprintf("; the empty knowledge base %s was removed", *name)
	}
	if failed := rep.Failures(fs.Args()); len(failed) > 0 {
		return fmt.Errorf("ingest into %s: %s failed: %s%s", *name, plural.Count(len(failed), "input"), rag.FailureList(failed), removed)
	}
	if created && st.Docs == 0 {
		return fmt.Errorf("ingest into %s: no document could be read from %s (%d skipped: unsupported types or excluded)%s", *name, strings.Join(fs.Args(), ", "), rep.Skipped, removed)
	}
	return nil
}
