package rag

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// NewDocument is one file for AddDocuments, its content already in
// memory (an upload).
type NewDocument struct {
	// Path is the document's key in the knowledge base and its chunks'
	// Source: where the caller keeps the file (the server's stored copy).
	Path string
	// Name is the file's own name (the client's), which gives the format
	// by its extension, the title when the content has none, and the name
	// in error messages. Empty means the base name of Path.
	Name    string
	Data    []byte
	ModTime time.Time // zero means now
}

// Added says what AddDocuments did with one document.
type Added struct {
	Path   string
	Status string // AddedNew, AddedUpdated, AddedUnchanged or AddedDuplicate
	// DuplicateOf is, for AddedDuplicate, the path of the document that
	// holds the same content (stored before, or earlier in the same call).
	DuplicateOf string
	Hash        string // SHA-256 of the content, hex
	Title       string
	Chunks      int
}

// Statuses of Added.
const (
	AddedNew       = "added"
	AddedUpdated   = "updated"   // Path held other content, now replaced
	AddedUnchanged = "unchanged" // Path already held this content
	AddedDuplicate = "duplicate" // this content is stored under another path; nothing written
)

// AddDocuments adds several documents all or nothing: each is extracted,
// chunked and embedded first, and only when all of them succeeded are
// they committed, as one log record (a crash keeps all or none). Content
// already in the knowledge base under another path, or repeated within
// the call, is not stored again: it is reported as AddedDuplicate with
// the path that holds it, so a client retrying an upload does not create
// a second document.
//
// On failure nothing is stored and the error is an *Error whose File
// names the document (by Name) and whose Kind tells why: ErrTooLarge,
// ErrUnsupported, ErrBadFile, or ctx's error when the caller went away;
// errors of the store itself (ErrLocked, ErrClosed, a disk error) come as
// they are.
func (s *Store) AddDocuments(ctx context.Context, docs []NewDocument, o IngestOptions) ([]Added, error) {
	if s.cfg.Embedding != nil && s.embed == nil {
		return nil, &Error{Public: "the knowledge base stores embeddings but the server has no embedder for it", Err: fmt.Errorf("knowledge base %s stores embeddings but no embedder was given", s.cfg.Name)}
	}
	if o.Chunker.Size == 0 {
		o.Chunker.Size = s.cfg.ChunkSize
		o.Chunker.Overlap = s.cfg.Overlap
	}
	s.follow() // a shared store behind another writer: check duplicates against its commits
	out := make([]Added, len(docs))
	recs := make([]*DocRecord, len(docs)) // nil: nothing to write
	for i, d := range docs {
		name := d.Name
		if name == "" {
			name = filepath.Base(d.Path)
		}
		mod := d.ModTime
		if mod.IsZero() {
			mod = time.Now()
		}
		out[i] = Added{Path: d.Path, Hash: contentHash(d.Data)}
		if s.duplicate(out[:i], &out[i]) {
			continue // no work for content already known
		}
		rec, err := s.prepare(ctx, d.Path, name, d.Data, out[i].Hash, mod, o)
		if err != nil {
			return nil, fileError(ctx, name, err)
		}
		recs[i] = rec
		out[i].Title, out[i].Chunks = rec.Title, len(rec.Chunks)
	}
	if err := ctx.Err(); err != nil {
		return nil, fileError(ctx, "", err)
	}

	// Commit under addMu, checking for duplicates again: another call
	// may have stored the same content while this one was extracting.
	s.addMu.Lock()
	defer s.addMu.Unlock()
	var batch []*DocRecord
	for i := range out {
		if recs[i] == nil || s.duplicate(out[:i], &out[i]) {
			continue
		}
		out[i].Status = AddedNew
		if _, ok := s.Doc(out[i].Path); ok {
			out[i].Status = AddedUpdated
		}
		batch = append(batch, recs[i])
	}
	if len(batch) > 0 {
		if err := s.PutBatch(batch); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// duplicate decides whether a's content needs no writing: the same path
// already holds it (AddedUnchanged), or another path does, in the store
// or among the earlier documents of the call (AddedDuplicate).
func (s *Store) duplicate(earlier []Added, a *Added) bool {
	if d, ok := s.Doc(a.Path); ok && d.Hash == a.Hash {
		a.Status, a.Title, a.Chunks = AddedUnchanged, d.Title, d.NumChunks()
		return true
	}
	for _, e := range earlier {
		if e.Hash == a.Hash && e.Status != AddedDuplicate && e.Path != a.Path {
			a.Status, a.DuplicateOf, a.Title, a.Chunks = AddedDuplicate, e.Path, e.Title, e.Chunks
			return true
		}
	}
	if d, ok := s.DocByHash(a.Hash); ok && d.Path != a.Path {
		a.Status, a.DuplicateOf, a.Title, a.Chunks = AddedDuplicate, d.Path, d.Title, d.NumChunks()
		return true
	}
	return false
}

// fileError classifies a failure to prepare one document for a remote
// client: the public message names the file by the caller's name and
// leaves out server paths and embedder addresses.
func fileError(ctx context.Context, name string, err error) error {
	e := &Error{File: name, Err: err}
	prefix := ""
	if name != "" {
		prefix = name + ": "
	}
	var tl *TooLargeError
	switch {
	case ctx.Err() != nil:
		e.Kind, e.Public = ctx.Err(), "the request was cancelled before the documents were stored"
	case errors.As(err, &tl):
		e.Kind, e.Public = ErrTooLarge, tl.Error()
	case errors.Is(err, ErrUnsupported):
		e.Kind, e.Public = ErrUnsupported, prefix+extractDetail(err)
	case errors.As(err, new(*extractError)):
		e.Kind, e.Public = ErrBadFile, prefix+extractDetail(err)
	default:
		e.Public = prefix + "could not be indexed (the embedding step failed; details are in the server log)"
	}
	return e
}

// extractDetail is an extraction error's text without the "extract
// <name>: " prefix prepare adds; extraction works on bytes in memory, so
// its messages hold no paths.
func extractDetail(err error) string {
	var xe *extractError
	if errors.As(err, &xe) {
		return xe.err.Error()
	}
	return err.Error()
}
