package hub

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestResolveModelArg(t *testing.T) {
	srv := httptest.NewServer(newFakeRegistry(t, []byte("GGUF"+strings.Repeat("w", 64))))
	defer srv.Close()
	store := t.TempDir()
	t.Setenv("OLLAMA_MODELS", store)
	name, _ := ParseOllamaName("deepseek-r1:1.5b")
	m, _, err := PullOllama(context.Background(), name, OllamaOptions{Registry: srv.URL, Store: store, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"deepseek-r1:1.5b", "ollama:deepseek-r1:1.5b"} {
		if got, err := ResolveModelArg(v); err != nil || got != m.GGUF {
			t.Errorf("ResolveModelArg(%q) = %q, %v; want %s", v, got, err, m.GGUF)
		}
	}
	// A file of that name wins; paths and plain names are left alone.
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("deepseek-r1:1.5b", []byte("x"), 0o644)
	for _, v := range []string{"deepseek-r1:1.5b", "./m:1", "/models/a:b", `C:\models\r1`, "tiny-model", filepath.Join(dir, "x.gguf")} {
		if got, err := ResolveModelArg(v); err != nil || got != v {
			t.Errorf("ResolveModelArg(%q) = %q, %v; want it unchanged", v, got, err)
		}
	}
	if _, err := ResolveModelArg("ollama:"); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--model: ") {
		t.Errorf("an empty ollama: name: %v, want a usage error about --model", err)
	}
	if _, err := ResolveModelArg("qwen:7b"); err == nil || !strings.Contains(err.Error(), "ragtune model pull ollama:qwen:7b") {
		t.Errorf("a model not in the store: %v", err)
	}
}
