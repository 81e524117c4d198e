package rag

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddDocumentsAllOrNothing(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	up := filepath.Join(kbDir, "uploads")
	good := NewDocument{Path: filepath.Join(up, "a1.txt"), Name: "notes.txt", Data: []byte("上传的笔记 uploadword。")}

	// One bad file in the request: nothing of it is stored.
	for _, bad := range []struct {
		doc  NewDocument
		kind error
	}{
		{NewDocument{Path: filepath.Join(up, "b1.docx"), Name: "bomb.docx", Data: bombDocx(t, 300, 0)}, ErrTooLarge},
		{NewDocument{Path: filepath.Join(up, "b2.docx"), Name: "broken.docx", Data: []byte("PK\x03\x04 no zip")}, ErrBadFile},
		{NewDocument{Path: filepath.Join(up, "b3.pdf"), Name: "scan.pdf", Data: makePDF("q /Im1 Do Q", false)}, ErrUnsupported},
	} {
		walBefore := s.Stats().WALBytes
		_, err := s.AddDocuments(ctx, []NewDocument{good, bad.doc}, IngestOptions{})
		if !errors.Is(err, bad.kind) {
			t.Fatalf("%s: %v, want %v", bad.doc.Name, err, bad.kind)
		}
		var e *Error
		if !errors.As(err, &e) || e.File != bad.doc.Name {
			t.Errorf("%s: error %#v does not name the file", bad.doc.Name, err)
		}
		if msg := PublicMessage(err); !strings.Contains(msg, bad.doc.Name) || strings.Contains(msg, kbDir) {
			t.Errorf("%s: public message %q must name the file and no server path", bad.doc.Name, msg)
		}
		if n := len(s.Paths()); n != 0 || s.Stats().WALBytes != walBefore {
			t.Fatalf("%s: a failed request stored %d documents", bad.doc.Name, n)
		}
	}

	// Two new files, one repeated within the request.
	other := NewDocument{Path: filepath.Join(up, "a2.md"), Name: "guide.md", Data: []byte("# 指南\n\n正文 guideword。")}
	again := NewDocument{Path: filepath.Join(up, "a3.txt"), Name: "notes copy.txt", Data: good.Data}
	res, err := s.AddDocuments(ctx, []NewDocument{good, other, again}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, dupOf string }{{AddedNew, ""}, {AddedNew, ""}, {AddedDuplicate, good.Path}}
	for i, w := range want {
		if res[i].Status != w.status || res[i].DuplicateOf != w.dupOf || res[i].Path != []NewDocument{good, other, again}[i].Path {
			t.Errorf("result %d: %+v, want status %s duplicate of %q", i, res[i], w.status, w.dupOf)
		}
	}
	if res[1].Title != "指南" || res[0].Title != "notes" || res[0].Chunks != 1 {
		t.Errorf("titles and chunks: %+v", res)
	}
	if got := len(s.Paths()); got != 2 {
		t.Fatalf("%d documents stored, want 2", got)
	}
	// The same content uploaded again (a client retry, a fresh id): one document.
	res, err = s.AddDocuments(ctx, []NewDocument{{Path: filepath.Join(up, "a4.txt"), Name: "notes.txt", Data: good.Data}}, IngestOptions{})
	if err != nil || res[0].Status != AddedDuplicate || res[0].DuplicateOf != good.Path {
		t.Fatalf("retry: %+v, %v; want a duplicate of %s", res, err, good.Path)
	}
	if got := len(s.Paths()); got != 2 {
		t.Fatalf("%d documents after a retried upload, want 2", got)
	}
	if got := topSource(t, s, "guideword", ModeBM25); got != "a2.md" {
		t.Errorf("guideword → %q", got)
	}
}

// cancellingEmbedder stands in for a client that disconnects while its
// upload is being embedded: it cancels the request's context and returns
// what a real embedder returns then.
func cancellingEmbedder(cancel context.CancelFunc) Embedder {
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		cancel()
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

func TestIngestCancelledStoresNothing(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100, Embedding: &EmbeddingConfig{Model: "fake"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s.embed = cancellingEmbedder(cancel)
	_, err = s.AddDocuments(ctx, []NewDocument{{Path: "/u/1.txt", Data: []byte("一。")}, {Path: "/u/2.txt", Data: []byte("二。")}}, IngestOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("AddDocuments after the client went away: %v, want context.Canceled", err)
	}
	if n := len(s.Paths()); n != 0 {
		t.Fatalf("%d documents stored by a cancelled request", n)
	}

	// The path ingest stops too, and does not take the cancellation for
	// vanished files to delete.
	s.embed = hashEmbedder(16)
	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{"keep.txt": []byte("保留。")})
	if _, err := s.Ingest(context.Background(), []string{src}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, src, map[string][]byte{"keep.txt": []byte("保留，但改了。"), "new.txt": []byte("新的。")})
	ctx, cancel = context.WithCancel(context.Background())
	s.embed = cancellingEmbedder(cancel)
	_, err = s.Ingest(ctx, []string{src}, IngestOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest after cancellation: %v, want context.Canceled", err)
	}
	d, ok := s.Doc(filepath.Join(src, "keep.txt"))
	if !ok || d.Hash != contentHash([]byte("保留。")) || len(s.Paths()) != 1 {
		t.Errorf("a cancelled ingest changed the knowledge base: %v", s.Paths())
	}
}
