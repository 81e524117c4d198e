package rag

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestOpenOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	s, created, err := OpenOrCreate(dir, KBSettings{Name: "kb", Overlap: -1})
	if err != nil || !created {
		t.Fatalf("create: created %v, %v", created, err)
	}
	s.Close()
	cfg, err := ReadStoreConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ChunkSize != DefaultChunkSize || cfg.Overlap != DefaultOverlap || cfg.Embedding != nil {
		t.Errorf("defaults: chunk %d overlap %d embedding %v", cfg.ChunkSize, cfg.Overlap, cfg.Embedding)
	}
	// Unstated settings and the same ones open it again.
	for _, set := range []KBSettings{{Name: "kb", Overlap: -1}, {Name: "kb", ChunkSize: DefaultChunkSize, Overlap: DefaultOverlap}} {
		s, created, err := OpenOrCreate(dir, set)
		if err != nil || created {
			t.Fatalf("reopen %+v: created %v, %v", set, created, err)
		}
		s.Close()
	}
	for _, tc := range []struct {
		set  KBSettings
		want string
	}{
		{KBSettings{Name: "kb", ChunkSize: 256, Overlap: -1}, "chunks at 512/64"},
		{KBSettings{Name: "kb", Overlap: 0}, "chunks at 512/64"},
		{KBSettings{Name: "kb", Overlap: -1, Embedding: &EmbeddingConfig{URL: "http://127.0.0.1:1"}}, "different embedding"},
	} {
		_, _, err := OpenOrCreate(dir, tc.set)
		if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want a usage error with %q", tc.set, err, tc.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if _, _, err := OpenOrCreate(bad, KBSettings{Name: "bad", ChunkSize: 64, Overlap: 64}); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("overlap = chunk size: error %v, want a usage error", err)
	}
	if _, err := os.Stat(filepath.Join(bad, configFile)); err == nil {
		t.Error("a refused knowledge base was written")
	}
}

func TestIngestReportFailures(t *testing.T) {
	d := t.TempDir()
	named := filepath.Join(d, "a.xyz")
	if err := os.WriteFile(named, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	inFolder := filepath.Join(d, "sub", "b.xyz")
	r := &IngestReport{Problems: []IngestEvent{
		{Path: named, Action: "skipped"},
		{Path: inFolder, Action: "skipped"},
		{Path: filepath.Join(d, "c.pdf"), Action: "failed"},
	}}
	got := r.Failures([]string{named, filepath.Join(d, "sub")})
	if len(got) != 2 || got[0].Path != named || got[1].Action != "failed" {
		t.Errorf("failures %+v; want the named skipped file and the failed one", got)
	}
}
