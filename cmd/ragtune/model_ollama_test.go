package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ollamaRegistry serves one model (a GGUF blob plus a template) as
// Ollama's registry does, under library/deepseek-r1:1.5b.
func ollamaRegistry(t *testing.T, gguf []byte) *httptest.Server {
	t.Helper()
	blobs := map[string][]byte{}
	layer := func(media string, b []byte) map[string]any {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return map[string]any{"mediaType": media, "digest": d, "size": len(b)}
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        layer("application/vnd.docker.container.image.v1+json", []byte(`{"model_format":"gguf"}`)),
		"layers": []any{
			layer("application/vnd.ollama.image.model", gguf),
			layer("application/vnd.ollama.image.template", []byte("{{ .Prompt }}")),
		},
	})
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const base = "/v2/library/deepseek-r1/"
		switch {
		case r.URL.Path == base+"manifests/1.5b":
			w.Write(manifest)
		case strings.HasPrefix(r.URL.Path, base+"blobs/"):
			if b, ok := blobs[strings.TrimPrefix(r.URL.Path, base+"blobs/")]; ok {
				w.Write(b)
				return
			}
			http.NotFound(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
}

// TestOllamaPullListRun: 'model pull ollama:deepseek-r1:1.5b' fills an
// Ollama store from a registry, 'model list' shows the model with its
// type and architecture, and --model deepseek-r1:1.5b runs it; a name the
// store lacks says how to pull it.
func TestOllamaPullListRun(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "tiny")
	if err := runModelInit([]string{"--out", m, "--preset", "tiny"}); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "tiny-q4_k_m.gguf")
	if err := runQuantize([]string{"--model", m, "--type", "q4_k_m", "--out", q}); err != nil {
		t.Fatal(err)
	}
	gguf, err := os.ReadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	srv := ollamaRegistry(t, gguf)
	defer srv.Close()
	store := filepath.Join(dir, "ollama")
	t.Setenv("OLLAMA_MODELS", store)

	code, out, stderr := runCaptured(t, "model", "pull", "ollama:deepseek-r1:1.5b", "--endpoint", srv.URL, "--quiet")
	if code != 0 || !strings.Contains(out, "pulled deepseek-r1:1.5b") {
		t.Fatalf("pull: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCaptured(t, "model", "list", "--dir", dir)
	if code != 0 {
		t.Fatalf("list: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"deepseek-r1:1.5b", "ollama", "qwen2", "Q4_K_M", filepath.Join(dir, "tiny"), "F32"} {
		if !strings.Contains(out, want) {
			t.Errorf("model list lacks %q:\n%s", want, out)
		}
	}
	code, out, stderr = runCaptured(t, "run", "--model", "deepseek-r1:1.5b", "--prompt", "hi", "--max-tokens", "2", "--no-think")
	if code != 0 {
		t.Fatalf("run --model deepseek-r1:1.5b: exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = runCaptured(t, "run", "--model", "deepseek-r1:7b", "--prompt", "hi")
	if code == 0 || !strings.Contains(stderr, "ragtune model pull ollama:deepseek-r1:7b") {
		t.Errorf("missing model: exit %d, stderr %s", code, stderr)
	}
}
