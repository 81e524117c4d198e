package rag

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestRerankChoiceConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		o    RerankChoice
		err  string // "" for none
		want *RerankConfig
	}{
		{"nothing", RerankChoice{Depth: 20}, "", nil},
		{"path", RerankChoice{Path: "bge", Depth: 20}, "", &RerankConfig{Path: "bge", Depth: 20}},
		{"url", RerankChoice{URL: "http://r", Model: "m", Depth: 7}, "", &RerankConfig{URL: "http://r", Model: "m", Depth: 7}},
		{"both", RerankChoice{Path: "p", URL: "u", Depth: 20}, "exclude each other", nil},
		{"depth", RerankChoice{Depth: 0}, "--rerank-depth must be positive, got 0", nil},
		{"none with url", RerankChoice{URL: "u", Depth: 20, None: true}, "--no-rerank contradicts", nil},
		{"none alone", RerankChoice{Depth: 20, None: true}, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.o.Config()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, cli.ErrUsage) {
					t.Fatalf("error %v, want a usage error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
				t.Errorf("config %+v, want %+v", got, c.want)
			}
			score, depth, err := c.o.Scorer()
			if err != nil || (score == nil) != (c.want == nil) || depth != c.o.Depth {
				t.Errorf("scorer %v, depth %d, %v", score != nil, depth, err)
			}
		})
	}
}

func TestRerankChoiceRecord(t *testing.T) {
	dir := t.TempDir()
	if got := DescribeReranker(dir); got != "reranker        none" {
		t.Errorf("empty: %q", got)
	}
	// A local path is recorded absolute, so the record works from anywhere.
	if err := (RerankChoice{Path: "models/bge", Depth: 9}).Record(dir); err != nil {
		t.Fatal(err)
	}
	c, err := ReadRerankConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("models/bge")
	if c == nil || c.Path != abs || c.Depth != 9 {
		t.Fatalf("recorded %+v, want path %s depth 9", c, abs)
	}
	if got, want := DescribeReranker(dir), "reranker        "+abs+" (local cross-encoder), depth 9"; got != want {
		t.Errorf("describe %q, want %q", got, want)
	}
	// Without a choice the record stays; None forgets it.
	if err := (RerankChoice{Depth: 20}).Record(dir); err != nil {
		t.Fatal(err)
	}
	if c, _ := ReadRerankConfig(dir); c == nil {
		t.Error("a choice of nothing removed the record")
	}
	if err := (RerankChoice{URL: "http://r", Model: "m", Depth: 3}).Record(dir); err != nil {
		t.Fatal(err)
	}
	if got, want := DescribeReranker(dir), `reranker        http://r model "m", depth 3`; got != want {
		t.Errorf("describe %q, want %q", got, want)
	}
	if err := (RerankChoice{Depth: 20, None: true}).Record(dir); err != nil {
		t.Fatal(err)
	}
	if c, _ := ReadRerankConfig(dir); c != nil {
		t.Errorf("None kept %+v", c)
	}
	if err := (RerankChoice{Path: "p", URL: "u", Depth: 1}).Record(dir); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("contradictory choice recorded: %v", err)
	}
	os.WriteFile(filepath.Join(dir, rerankConfigFile), []byte("{"), 0o644)
	if got := DescribeReranker(dir); !strings.HasPrefix(got, "reranker        unreadable: ") {
		t.Errorf("broken record: %q", got)
	}
}

func TestRecordedRerankScorer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(dir, StoreConfig{Name: "t", ChunkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var warn bytes.Buffer
	if score, depth := RecordedRerankScorer(s, &warn); score != nil || depth != 0 || warn.Len() != 0 {
		t.Errorf("no record: %v %d %q", score != nil, depth, warn.String())
	}
	if err := WriteRerankConfig(dir, &RerankConfig{URL: "http://r", Depth: 4}); err != nil {
		t.Fatal(err)
	}
	if score, depth := RecordedRerankScorer(s, &warn); score == nil || depth != 4 {
		t.Errorf("record: %v %d", score != nil, depth)
	}
	os.WriteFile(filepath.Join(dir, rerankConfigFile), []byte("{"), 0o644)
	if score, _ := RecordedRerankScorer(s, &warn); score != nil || !strings.Contains(warn.String(), "warning: ") {
		t.Errorf("broken record: %v, warning %q", score != nil, warn.String())
	}
}
