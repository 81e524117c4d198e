package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// The pulled directory is one the rest of ragtune opens: a tiny model is
// served in the Hugging Face layout and pulled through the command.
func TestModelPullWritesLoadableModel(t *testing.T) {
	src := t.TempDir()
	if err := qwen2.Init(src, pullTestPreset(t, "tiny"), 7, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	const repo = "ragtune/tiny"
	mux := http.NewServeMux()
	var sibs []map[string]any
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := map[string]any{"rfilename": e.Name(), "size": len(b)}
		if strings.HasSuffix(e.Name(), ".safetensors") {
			sum := sha256.Sum256(b)
			s["lfs"] = map[string]any{"sha256": hex.EncodeToString(sum[:]), "size": len(b)}
		}
		sibs = append(sibs, s)
	}
	mux.HandleFunc("GET /api/models/"+repo+"/revision/main", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"sha": "0123456789abcdef0123456789abcdef01234567", "siblings": sibs})
	})
	mux.HandleFunc("GET /"+repo+"/resolve/0123456789abcdef0123456789abcdef01234567/{file}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(src, r.PathValue("file")))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	out := filepath.Join(t.TempDir(), "pulled")
	if code := runMain([]string{"model", "pull", repo, "--endpoint", srv.URL, "--out", out, "--quiet"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("model pull exited %d", code)
	}
	ts, cfg, err := qwen2.Open(out)
	if err != nil {
		t.Fatalf("open the pulled model: %v", err)
	}
	defer ts.Close()
	if got, want := cfg.HiddenSize, 64; got != want {
		t.Errorf("pulled config hidden size %d, want %d", got, want)
	}
	if _, err := tokenizer.Load(out); err != nil {
		t.Errorf("pulled tokenizer: %v", err)
	}
	if code := runMain([]string{"model", "pull", "not-a-repo"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("a bad repository name exited %d, want 2 (usage)", code)
	}
}

func pullTestPreset(t *testing.T, name string) qwen2.Config {
	t.Helper()
	c, err := qwen2.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
