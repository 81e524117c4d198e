package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKBReports: kb list's rows (by name, a broken knowledge base named
// and skipped, other folders ignored) and table, and kb stats' JSON and
// text on a knowledge base holding one file.
func TestKBReports(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(t.TempDir(), "notes.md")
	if err := os.WriteFile(src, []byte("# LoRA\n\nLoRA trains two small matrices beside each frozen weight.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"zeta", "alpha"} {
		s, _, err := OpenOrCreate(filepath.Join(root, name), KBSettings{Name: name, Overlap: -1})
		if err != nil {
			t.Fatal(err)
		}
		if name == "alpha" {
			if _, err := s.Ingest(context.Background(), []string{src}, IngestOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	if err := os.MkdirAll(filepath.Join(root, "not-a-kb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A record naming a store this build does not know opens with an error.
	var cfg map[string]any
	if b, err := os.ReadFile(filepath.Join(root, "zeta", configFile)); err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("read the config: %v", err)
	}
	cfg["store"] = map[string]any{"kind": "nowhere"}
	if b, err := json.Marshal(cfg); err != nil || os.WriteFile(filepath.Join(root, "broken", configFile), b, 0o644) != nil {
		t.Fatalf("write a broken config: %v", err)
	}

	var warn bytes.Buffer
	rows, err := ListKBs(root, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "broken") {
		t.Errorf("the broken knowledge base was not named: %q", warn.String())
	}
	if len(rows) != 2 || rows[0].Name != "alpha" || rows[0].Docs != 1 || rows[0].Chunks == 0 || rows[len(rows)-1].Name != "zeta" {
		t.Fatalf("rows %+v", rows)
	}
	var table bytes.Buffer
	if err := WriteKBTable(&table, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n")
	if len(lines) != len(rows)+1 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "alpha ") {
		t.Errorf("table:\n%s", table.String())
	}
	if none, err := ListKBs(filepath.Join(root, "missing"), &warn); err != nil || len(none) != 0 {
		t.Errorf("a missing root: %v, %v", none, err)
	}

	s, err := OpenStore(filepath.Join(root, "alpha"), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := json.Marshal(s.StatsReport("alpha", true))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Name  string   `json:"name"`
		Docs  int      `json:"docs"`
		Store string   `json:"store"`
		Files []string `json:"files"`
		Conf  struct {
			ChunkSize int `json:"chunk_size"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Name != "alpha" || rep.Docs != 1 || rep.Store != StoreEmbedded || len(rep.Files) != 1 {
		t.Errorf("stats JSON %s", b)
	}
	if _, ok := s.StatsReport("alpha", false)["files"]; ok {
		t.Error("files listed without being asked for")
	}
	var text bytes.Buffer
	s.WriteStats(&text, "alpha", true)
	for _, want := range []string{"knowledge base  alpha (" + filepath.Join(root, "alpha") + ")\n", "documents       1\n",
		"embeddings      none (bm25 retrieval only)\n", "reranker        none\n", "   " + rep.Files[0] + "\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("stats text lacks %q:\n%s", want, text.String())
		}
	}
}
