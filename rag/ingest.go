package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// IngestOptions control which files are read and how they are chunked.
type IngestOptions struct {
	// Include and Exclude are glob patterns (path.Match syntax). A pattern
	// without a slash matches the file's base name; one with a slash
	// matches its path relative to the ingested root, and a leading "**/"
	// matches at any depth. With no Include, every file with a supported
	// extension is included.
	Include, Exclude []string

	Chunker Chunker
	// Extract tunes extraction; its MaxExtractBytes bounds what one file
	// may inflate to (a server sets a multiple of its upload limit).
	Extract ExtractOptions

	// Progress, when set, is called for each file once its outcome is
	// final (for written files: once they are durable).
	Progress func(IngestEvent)

	// BatchDocs caps how many documents share one log sync; default 64.
	BatchDocs int
}

func (o IngestOptions) batchDocs() int {
	if o.BatchDocs <= 0 {
		return 64
	}
	return o.BatchDocs
}

// IngestEvent describes what happened to one file.
type IngestEvent struct {
	Path   string
	Action string // "added", "updated", "unchanged", "removed", "skipped", "failed"
	Chunks int
	Err    error
	Done   int // files handled so far
	Total  int // files found
}

// IngestReport counts the outcome of one ingest run.
type IngestReport struct {
	Added, Updated, Unchanged, Removed, Skipped, Failed int
	Chunks                                              int // chunks written
	Problems                                            []IngestEvent
}

// Ingest brings the knowledge base in line with the files under roots
// (files or directories): new files are added, changed files (by content
// hash) re-chunked and re-indexed, unchanged files left alone, and files
// previously ingested under a root that no longer exist there removed. A
// file that cannot be read or parsed is reported and skipped; the rest is
// ingested. Each document is committed on its own, so an interrupted run
// keeps everything committed before the interruption.
func (s *Store) Ingest(ctx context.Context, roots []string, o IngestOptions) (rep IngestReport, err error) {
	s.beginBulk()
	defer func() {
		if cerr := s.endBulk(); err == nil {
			err = cerr
		}
	}()
	if s.cfg.Embedding != nil && s.embed == nil {
		return rep, fmt.Errorf("knowledge base %s stores embeddings but no embedder was given", s.cfg.Name)
	}
	if o.Chunker.Size == 0 {
		o.Chunker.Size = s.cfg.ChunkSize
		o.Chunker.Overlap = s.cfg.Overlap
	}
	type file struct{ path, root string }
	var files []file
	absRoots := make([]string, len(roots))
	for i, root := range roots {
		abs, err := filepath.Abs(root)
		if err != nil {
			return rep, fmt.Errorf("ingest %s: %w", root, err)
		}
		absRoots[i] = abs
		info, err := os.Stat(abs)
		if err != nil {
			return rep, fmt.Errorf("ingest: %w", err)
		}
		if !info.IsDir() {
			files = append(files, file{abs, filepath.Dir(abs)})
			continue
		}
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				rep.Failed++
				rep.Problems = append(rep.Problems, IngestEvent{Path: p, Action: "failed", Err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if p != abs && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir // .git, .cache and friends
				}
				return nil
			}
			if d.Type().IsRegular() && wanted(p, abs, o.Include, o.Exclude) {
				files = append(files, file{p, abs})
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("walk %s: %w", root, err)
		}
	}
	seen := map[string]bool{}
	total := len(files)
	emit := func(e IngestEvent) {
		e.Total = total
		switch e.Action {
		case "added":
			rep.Added++
		case "updated":
			rep.Updated++
		case "unchanged":
			rep.Unchanged++
		case "removed":
			rep.Removed++
		case "skipped":
			rep.Skipped++
		case "failed":
			rep.Failed++
		}
		if e.Err != nil {
			rep.Problems = append(rep.Problems, e)
		}
		rep.Chunks += e.Chunks
		if o.Progress != nil {
			o.Progress(e)
		}
	}
	// Group commit: prepared documents wait in a batch that is flushed
	// (one fsync) when it is large or old enough; progress events fire
	// after the flush, when the documents are durable.
	var batch []*DocRecord
	var pending []IngestEvent
	var batchChunks int
	var batchStart time.Time
	flush := func() error {
		if len(batch) > 0 {
			if err := s.PutBatch(batch); err != nil {
				return fmt.Errorf("%w: %w", errStore, err)
			}
		}
		for _, e := range pending {
			emit(e)
		}
		batch, pending, batchChunks = batch[:0], pending[:0], 0
		return nil
	}
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			if ferr := flush(); ferr != nil {
				return rep, ferr
			}
			return rep, err
		}
		seen[f.path] = true
		e, rec := s.prepareFile(ctx, f.path, o)
		e.Done = i + 1
		if rec == nil {
			if len(batch) == 0 {
				emit(e)
			} else {
				pending = append(pending, e)
			}
			continue
		}
		if len(batch) == 0 {
			batchStart = time.Now()
		}
		batch = append(batch, rec)
		pending = append(pending, e)
		batchChunks += len(rec.Chunks)
		if len(batch) >= o.batchDocs() || batchChunks >= 4096 || time.Since(batchStart) > 500*time.Millisecond {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err // cancelled during the last file: the roots were not fully seen
	}
	// Remove documents that vanished from the roots that were ingested.
	for _, p := range s.Paths() {
		if seen[p] {
			continue
		}
		for _, root := range absRoots {
			if p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
				if err := s.Delete(p); err != nil {
					return rep, err
				}
				emit(IngestEvent{Path: p, Action: "removed", Done: total})
				break
			}
		}
	}
	// No checkpoint here: the log holds the commits durably, and the store
	// compacts it once it outgrows its share of the snapshot.
	return rep, nil
}

// errStore marks failures of the knowledge base itself (disk full, log
// write error), which stop the run, unlike problems with one input file.
var errStore = errors.New("knowledge base write failed")

// prepareFile reads, extracts, chunks and embeds one file. It returns the
// record to commit, or nil when there is nothing to write (unchanged,
// skipped, failed; a file that became unreadable is deleted at once).
func (s *Store) prepareFile(ctx context.Context, p string, o IngestOptions) (IngestEvent, *DocRecord) {
	e := IngestEvent{Path: p}
	info, err := os.Stat(p)
	if err != nil {
		e.Action, e.Err = "failed", err
		return e, nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		e.Action, e.Err = "failed", err
		return e, nil
	}
	hash := contentHash(data)
	old, exists := s.Doc(p)
	if exists && old.Hash == hash {
		e.Action = "unchanged"
		return e, nil
	}
	rec, err := s.prepare(ctx, p, p, data, hash, info.ModTime(), o)
	if err != nil {
		e.Action, e.Err = "failed", err
		if errors.Is(err, ErrUnsupported) {
			e.Action = "skipped"
		}
		if exists && ctx.Err() == nil {
			// The file changed into something unreadable: drop its stale chunks.
			if derr := s.Delete(p); derr != nil {
				e.Action, e.Err = "failed", fmt.Errorf("%w: %w", errStore, derr)
			}
		}
		return e, nil
	}
	e.Action, e.Chunks = "added", len(rec.Chunks)
	if exists {
		e.Action = "updated"
	}
	return e, rec
}

// extractError marks a failure of extraction itself (as opposed to
// embedding or the store).
type extractError struct {
	name string
	err  error
}

func (e *extractError) Error() string { return "extract " + e.name + ": " + e.err.Error() }
func (e *extractError) Unwrap() error { return e.err }

func contentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// prepare extracts, chunks and embeds one file's content into the record
// stored under path; name supplies the extension and the title fallback.
// Every stage stops when ctx is cancelled.
func (s *Store) prepare(ctx context.Context, path, name string, data []byte, hash string, mod time.Time, o IngestOptions) (*DocRecord, error) {
	doc, err := Extract(ctx, name, data, o.Extract)
	if err != nil {
		return nil, &extractError{name, err}
	}
	chunks, err := o.Chunker.SplitContext(ctx, path, doc.Title, doc.Text, doc.Markdown)
	if err != nil {
		return nil, err
	}
	rec := &DocRecord{Path: path, Hash: hash, Size: int64(len(data)), ModTime: mod.UTC(), Title: doc.Title, Chunks: chunks}
	if s.embed != nil && len(chunks) > 0 {
		texts := make([]string, len(chunks))
		for i, c := range chunks {
			texts[i] = c.ContextText()
		}
		vecs, err := s.embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed %s: %w", name, err)
		}
		if len(vecs) != len(chunks) {
			return nil, fmt.Errorf("embed %s: %d vectors for %d chunks", name, len(vecs), len(chunks))
		}
		rec.Vectors = vecs
	}
	return rec, nil
}

// wanted applies the extension list and the include/exclude globs.
func wanted(p, root string, include, exclude []string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		rel = filepath.Base(p)
	}
	rel = filepath.ToSlash(rel)
	for _, pat := range exclude {
		if globMatch(pat, rel) {
			return false
		}
	}
	if len(include) == 0 {
		return slices.Contains(Extensions, strings.ToLower(filepath.Ext(p)))
	}
	for _, pat := range include {
		if globMatch(pat, rel) {
			return true
		}
	}
	return false
}

func globMatch(pat, rel string) bool {
	pat = filepath.ToSlash(pat)
	if !strings.Contains(pat, "/") {
		ok, _ := path.Match(pat, path.Base(rel))
		return ok
	}
	if rest, ok := strings.CutPrefix(pat, "**/"); ok {
		parts := strings.Split(rel, "/")
		for i := range parts {
			if m, _ := path.Match(rest, strings.Join(parts[i:], "/")); m {
				return true
			}
		}
		return false
	}
	if ok, _ := path.Match(pat, rel); ok {
		return true
	}
	// A directory pattern ("docs/*" or "vendor/") also covers what is below it.
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if m, _ := path.Match(strings.TrimSuffix(pat, "/"), strings.Join(parts[:i], "/")); m {
			return true
		}
	}
	return false
}
