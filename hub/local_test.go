package hub

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/internal/bytesize"
	"ragtune/weights"
)

func TestFileTypeName(t *testing.T) {
	for ft, want := range map[uint64]string{0: "F32", 1: "F16", 32: "BF16", 2: "Q4_0", 7: "Q8_0", 15: "Q4_K_M", 10: "Q2_K", 99: ""} {
		if got := FileTypeName(ft); got != want {
			t.Errorf("FileTypeName(%d) = %q, want %q", ft, got, want)
		}
	}
}

func writeGGUF(t *testing.T, path string, meta map[string]any, types ...weights.DType) {
	t.Helper()
	w := gguf.NewWriter(path)
	for k, v := range meta {
		if err := w.AddMetadata(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range types {
		n := 32 * 2 // two rows of one block each
		size := n * 4
		switch d {
		case weights.Q8_0:
			size = 2 * 34
		case weights.F16:
			size = n * 2
		}
		if err := w.AddTensor(string(rune('a'+i))+".weight", d, []uint64{32, 2}, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestListLocal(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(dir, "tiny")
	os.MkdirAll(hf, 0o755)
	os.WriteFile(filepath.Join(hf, "config.json"), []byte(`{"model_type": "qwen2", "torch_dtype": "bfloat16"}`), 0o644)
	os.WriteFile(filepath.Join(hf, "model.safetensors"), make([]byte, 1000), 0o644)
	os.WriteFile(filepath.Join(hf, "extra.safetensors"), make([]byte, 24), 0o644)
	os.MkdirAll(filepath.Join(dir, "not-a-model"), 0o755)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	writeGGUF(t, filepath.Join(dir, "a.gguf"), map[string]any{"general.architecture": "llama", "general.file_type": uint32(15)}, weights.F32)
	// No file type recorded: the most common 2-D tensor type names it.
	writeGGUF(t, filepath.Join(dir, "b.GGUF"), map[string]any{"general.architecture": "qwen2"}, weights.Q8_0, weights.F32, weights.Q8_0)
	os.WriteFile(filepath.Join(dir, "c.gguf"), []byte("not gguf"), 0o644)

	// The same folder twice (and a missing one) lists each model once.
	got, err := ListLocal([]string{dir, filepath.Join(dir, "missing"), dir + string(filepath.Separator)})
	if err != nil {
		t.Fatal(err)
	}
	want := []ModelInfo{
		{Path: filepath.Join(dir, "a.gguf"), Type: "Q4_K_M", Arch: "llama"},
		{Path: filepath.Join(dir, "b.GGUF"), Type: "Q8_0", Arch: "qwen2"},
		{Path: filepath.Join(dir, "c.gguf"), Type: "unreadable", Arch: "?", Size: 8},
		{Path: hf, Type: "BF16", Arch: "qwen2", Size: 1024, Directory: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d models %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Path != w.Path || g.Name != w.Path || g.Source != "local" || g.Type != w.Type || g.Arch != w.Arch || g.Directory != w.Directory || (w.Size != 0 && g.Size != w.Size) || g.Size == 0 {
			t.Errorf("model %d: %+v, want %+v", i, g, w)
		}
	}
	if _, err := ListLocal([]string{filepath.Join(dir, "notes.txt")}); err == nil {
		t.Error("a file given as a folder was not an error")
	}
}

func TestModelsDir(t *testing.T) {
	t.Setenv("RAGTUNE_HOME", "/srv/rt")
	if got := ModelsDir(); got != filepath.Join("/srv/rt", "models") {
		t.Errorf("ModelsDir = %q", got)
	}
	t.Setenv("RAGTUNE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := ModelsDir(); got != filepath.Join("/home/u", ".ragtune", "models") {
		t.Errorf("ModelsDir without RAGTUNE_HOME = %q", got)
	}
}

func TestListModelsAndTable(t *testing.T) {
	dir := t.TempDir()
	writeGGUF(t, filepath.Join(dir, "a.gguf"), map[string]any{"general.architecture": "qwen2", "general.file_type": uint32(7)}, weights.Q8_0)
	srv := httptest.NewServer(newFakeRegistry(t, []byte("GGUF"+strings.Repeat("w", 64))))
	defer srv.Close()
	store := t.TempDir()
	name, _ := ParseOllamaName("deepseek-r1:1.5b")
	if _, _, err := PullOllama(context.Background(), name, OllamaOptions{Registry: srv.URL, Store: store, Retries: -1}); err != nil {
		t.Fatal(err)
	}
	models, err := ListModels([]string{dir}, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].Source != "local" || models[1].Source != "ollama" || models[1].Name != "deepseek-r1:1.5b" ||
		models[1].Size != 68 || models[1].Type != "unreadable" {
		t.Fatalf("models %+v", models)
	}
	var b strings.Builder
	if err := WriteModelTable(&b, models); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "MODEL SIZE TYPE ARCH SOURCE" ||
		strings.Join(strings.Fields(lines[1]), " ") != filepath.Join(dir, "a.gguf")+" "+bytesize.Format(models[0].Size)+" Q8_0 qwen2 local" ||
		strings.Join(strings.Fields(lines[2]), " ") != "deepseek-r1:1.5b 68 B unreadable ? ollama" {
		t.Errorf("table:\n%s", b.String())
	}
}
