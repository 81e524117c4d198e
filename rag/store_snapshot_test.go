package rag

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// copyDir copies the files of src (one level) into a new temporary
// directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestOpenFormat1KnowledgeBase opens a knowledge base written before the
// streamed snapshot (testdata/kb-v1: a format-1 snapshot of two files and
// a log holding a third, with the hits that build gave in want.json) and
// requires the same hits and scores in every mode: as opened, after a
// checkpoint rewrote it in the current format, and after reopening that.
func TestOpenFormat1KnowledgeBase(t *testing.T) {
	var want map[string][]Result
	b, err := os.ReadFile(filepath.Join("testdata", "kb-v1", "want.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	dir := copyDir(t, filepath.Join("testdata", "kb-v1", "kb"))
	check := func(stage string, s *Store) {
		t.Helper()
		for key, w := range want {
			mode, q, _ := strings.Cut(key, " ")
			got, err := s.Search(context.Background(), Query{Text: q, K: 4, Mode: Mode(mode)})
			if err != nil {
				t.Fatalf("%s: %s: %v", stage, key, err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s: %s:\n got %+v\nwant %+v", stage, key, got, w)
			}
		}
		if st := s.Stats(); st.Docs != 3 || st.VectorDim != 16 {
			t.Errorf("%s: stats %+v, want 3 documents with 16-dimensional vectors", stage, st)
		}
	}
	s, err := OpenStore(dir, hashEmbedder(16), false)
	if err != nil {
		t.Fatalf("open a format-1 knowledge base: %v", err)
	}
	check("format 1", s)
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	head, _ := os.ReadFile(filepath.Join(dir, snapshotFile))
	if !strings.HasPrefix(string(head), snapMagic) {
		t.Fatalf("the checkpoint did not write the current format")
	}
	s, err = OpenStore(dir, hashEmbedder(16), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("rewritten", s)
}

// TestSnapshotDamageAndNewerFormat checks that a current-format snapshot
// cut short or damaged fails to open as damaged, and that one claiming a
// later format says to upgrade or re-ingest.
func TestSnapshotDamageAndNewerFormat(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "kb-v1", "kb"))
	s, err := OpenStore(dir, hashEmbedder(16), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, snapshotFile)
	good, _ := os.ReadFile(path)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"cut short", good[:len(good)-3], "damaged"},
		{"cut before the vectors", good[:len(good)/2], "damaged"},
		{"a flipped byte", flip(good, len(good)*3/4), "damaged"},
		{"a newer format", newerSnapshot(t, good), "newer ragtune"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := OpenStore(dir, hashEmbedder(16), true)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Public, c.want) {
				t.Errorf("error %v (public %q), want it to say %q", err, e.Public, c.want)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = append([]byte(nil), b...)
	b[i] ^= 0x40
	return b
}

// newerSnapshot rewrites a snapshot's header record to claim format 3.
func newerSnapshot(t *testing.T, good []byte) []byte {
	t.Helper()
	rec, err := encodeRecord(&snapHeader{Format: snapFormat + 1, Docs: 3})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(snapMagic), rec...)
}

// TestBulkIngestCompactsPastSnapshot lowers the bulk log limit and checks
// that a long ingest rewrites its snapshot only when the log has outgrown
// it, so the snapshot at least doubles between rewrites (a fixed limit
// would rewrite it every time the log passed the limit).
func TestBulkIngestCompactsPastSnapshot(t *testing.T) {
	defer func(v int64) { bulkMaxLog = v }(bulkMaxLog)
	bulkMaxLog = 64 << 10
	src := t.TempDir()
	makeCorpus(t, src, 2500)
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snapPath := filepath.Join(kbDir, snapshotFile)
	var sizes []int64 // the snapshot's size after each rewrite during the ingest
	var last os.FileInfo
	rep, err := s.Ingest(context.Background(), []string{src}, IngestOptions{BatchDocs: 8, Progress: func(e IngestEvent) {
		fi, err := os.Stat(snapPath)
		if err == nil && (last == nil || !os.SameFile(fi, last) || fi.ModTime() != last.ModTime()) {
			sizes = append(sizes, fi.Size())
			last = fi
		}
	}})
	if err != nil || rep.Added != 2500 {
		t.Fatalf("ingest: %+v, %v", rep, err)
	}
	if len(sizes) < 2 {
		t.Fatalf("snapshot rewritten %d times during the ingest (sizes %v); the test needs a longer ingest", len(sizes), sizes)
	}
	for i := 1; i < len(sizes); i++ {
		// The log outgrew the previous snapshot before this rewrite, and
		// a snapshot holds at least what its log records held.
		if sizes[i] < 2*sizes[i-1]*9/10 {
			t.Errorf("snapshot rewritten at %d bytes after %d: it should have at least doubled (sizes %v)", sizes[i], sizes[i-1], sizes)
		}
	}
}

// TestSnapshotHNSW round-trips a knowledge base with an HNSW vector index
// through a checkpoint and a reopen: the snapshot streams the graph after
// the BM25 index, and the reopened store answers dense and hybrid queries
// as the writer did.
func TestSnapshotHNSW(t *testing.T) {
	src := t.TempDir()
	makeCorpus(t, src, 40)
	dir := filepath.Join(t.TempDir(), "kb")
	cfg := KBSettings{Name: "h", Overlap: -1, VectorIndex: "hnsw", Embedding: &EmbeddingConfig{Model: "hash"}}.Config()
	s, err := CreateStore(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenStore(dir, hashEmbedder(16), false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Ingest(ctx, []string{src}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	queries := []string{"第3号文档", "主题t17x", "第39号文档的第5句话"}
	want := map[string][]Result{}
	for _, q := range queries {
		for _, m := range []Mode{ModeDense, ModeHybrid, ModeBM25} {
			res, err := s.Search(ctx, Query{Text: q, K: 5, Mode: m})
			if err != nil || len(res) == 0 {
				t.Fatalf("%s %q: %v, %d hits", m, q, err, len(res))
			}
			want[string(m)+q] = res
		}
	}
	s.Close()
	r, err := OpenStore(dir, hashEmbedder(16), true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := r.Stats(); st.VectorIndex != "hnsw" {
		t.Fatalf("reopened vector index %q, want hnsw", st.VectorIndex)
	}
	for _, q := range queries {
		for _, m := range []Mode{ModeDense, ModeHybrid, ModeBM25} {
			got, err := r.Search(ctx, Query{Text: q, K: 5, Mode: m})
			if err != nil || !reflect.DeepEqual(got, want[string(m)+q]) {
				t.Errorf("%s %q after reopening: %v\n got %+v\nwant %+v", m, q, err, got, want[string(m)+q])
			}
		}
	}
}
