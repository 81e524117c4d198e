package rag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestKBDir(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"docs", "医学-v1.2", "a_b", "9"} {
		if dir, err := KBDir(root, name); err != nil || dir != filepath.Join(root, name) {
			t.Errorf("KBDir(%q) = %q, %v", name, dir, err)
		}
	}
	for _, name := range []string{"", "../x", "a/b", ".hidden", "-x", "a b"} {
		if _, err := KBDir(root, name); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("KBDir(%q): %v, want a usage error", name, err)
		}
	}
}

func TestKBOpenError(t *testing.T) {
	_, err := OpenStore(filepath.Join(t.TempDir(), "none"), nil, true)
	got := KBOpenError(err, "none")
	if !strings.Contains(got.Error(), `knowledge base "none" not found`) || !strings.Contains(got.Error(), "ragtune ingest --kb none") {
		t.Errorf("missing knowledge base: %v", got)
	}
	other := errors.New("disk on fire")
	if KBOpenError(other, "x") != other {
		t.Error("another error was rewritten")
	}
}

func TestDeleteKBAndRemoveEmpty(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "kb")
	s, _, err := OpenOrCreate(dir, KBSettings{Name: "kb", Overlap: -1})
	if err != nil {
		t.Fatal(err)
	}
	if s.RemoteStats() != nil {
		t.Error("an embedded knowledge base has remote stats")
	}
	s.Close()
	if err := DeleteKB(context.Background(), dir, "kb"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory still there: %v", err)
	}
	if err := DeleteKB(context.Background(), dir, "kb"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleting again: %v, want not found", err)
	}

	s, _, err = OpenOrCreate(dir, KBSettings{Name: "kb", Overlap: -1})
	if err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	if err := s.RemoveEmpty(&warn); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) || warn.Len() != 0 {
		t.Errorf("after RemoveEmpty: stat %v, warnings %q", err, warn.String())
	}
}

func TestFailureList(t *testing.T) {
	var ps []IngestEvent
	for i := range 7 {
		ps = append(ps, IngestEvent{Path: fmt.Sprintf("f%d.pdf", i), Action: "failed", Err: errors.New("broken")})
	}
	if got, want := FailureList(ps[:2]), "f0.pdf (broken); f1.pdf (broken)"; got != want {
		t.Errorf("two: %q, want %q", got, want)
	}
	if got := FailureList(ps); strings.Count(got, "(broken)") != 5 || !strings.HasSuffix(got, "; …") {
		t.Errorf("seven: %q, want five and an ellipsis", got)
	}
}

func TestQueryReranker(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	s, _, err := OpenOrCreate(dir, KBSettings{Name: "kb", Overlap: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var warn bytes.Buffer
	if QueryReranker(s, nil, false, &warn) != nil {
		t.Error("no choice and no record: a reranker")
	}
	chosen := &RerankConfig{URL: "http://127.0.0.1:1", Depth: 5}
	if QueryReranker(s, chosen, false, &warn) == nil {
		t.Error("a chosen reranker was dropped")
	}
	if err := WriteRerankConfig(dir, &RerankConfig{URL: "http://127.0.0.1:1", Depth: 9}); err != nil {
		t.Fatal(err)
	}
	if QueryReranker(s, nil, false, &warn) == nil {
		t.Error("the recorded reranker was not used")
	}
	if QueryReranker(s, nil, true, &warn) != nil {
		t.Error("--no-rerank still reranks with the record")
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %q", warn.String())
	}
}

func TestStoreChoiceConfig(t *testing.T) {
	given := func(names ...string) func(string) bool {
		return func(f string) bool {
			for _, n := range names {
				if n == f {
					return true
				}
			}
			return false
		}
	}
	for _, c := range []struct {
		name string
		c    StoreChoice
		err  string
		want *RemoteConfig
	}{
		{"nothing", StoreChoice{URL: "http://env:8080", Given: given()}, "", nil},
		{"url without store", StoreChoice{URL: "http://w", Given: given("weaviate-url")}, "need --store weaviate", nil},
		{"embedded", StoreChoice{Kind: StoreEmbedded, Given: given()}, "", &RemoteConfig{Kind: StoreEmbedded}},
		{"embedded with class", StoreChoice{Kind: StoreEmbedded, Class: "C", Given: given("weaviate-class")}, "not --store embedded", nil},
		{"weaviate", StoreChoice{Kind: StoreWeaviate, URL: "http://w", Class: "C", Replication: 3}, "", &RemoteConfig{Kind: StoreWeaviate, URL: "http://w", Class: "C", Replication: 3}},
		{"weaviate without url", StoreChoice{Kind: StoreWeaviate}, "needs --weaviate-url", nil},
		{"negative replication", StoreChoice{Kind: StoreWeaviate, URL: "http://w", Replication: -1}, "--replication must be >= 1", nil},
		{"unknown", StoreChoice{Kind: "s3"}, `--store must be embedded or weaviate, got "s3"`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.c.Config()
			if c.err != "" {
				if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want a usage error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	t.Setenv(WeaviateAPIKeyEnv, "")
	if _, err := (StoreChoice{Kind: StoreWeaviate, URL: "http://w", Key: "secret"}).Config(); err != nil || os.Getenv(WeaviateAPIKeyEnv) != "secret" {
		t.Errorf("the API key did not reach the environment (%v)", err)
	}
}
