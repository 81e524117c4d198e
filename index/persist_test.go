package index

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.bin")
	write := func(data string, fail error) error {
		return SaveFile(path, func(w io.Writer) error {
			if _, err := io.WriteString(w, data); err != nil {
				return err
			}
			return fail
		})
	}
	if err := write("first", nil); err != nil {
		t.Fatal(err)
	}
	// A writer failing halfway leaves the old file whole and no temporary.
	boom := errors.New("disk full")
	if err := write("second, cut short", boom); !errors.Is(err, boom) {
		t.Fatalf("failed save returned %v, want it to wrap %v", err, boom)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "first" {
		t.Fatalf("after a failed save: %q, %v; want the old content", got, err)
	}
	if err := write("third", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "third" {
		t.Fatalf("content %q, want third", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (readable by other tools)", fi.Mode().Perm())
	}
}
