package bytesize

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOfPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := write("model.safetensors", 1000)
	write("config.json", 24)
	write("sub/extra.bin", 7)
	link := filepath.Join(t.TempDir(), "model.gguf")
	if err := os.Symlink(f, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want int64
	}{
		{f, 1000},
		{dir, 1031}, // links inside a directory are not counted twice
		{link, 1000},
		{filepath.Join(dir, "missing"), 0},
	}
	for _, tc := range tests {
		if got := OfPath(tc.path); got != tc.want {
			t.Errorf("OfPath(%s) = %d, want %d", tc.path, got, tc.want)
		}
	}
}
