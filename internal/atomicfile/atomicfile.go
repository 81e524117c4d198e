// Package atomicfile writes files through a temporary file beside the
// target and a rename, so a crash never leaves a half-written file under
// the final name, and the finished file is readable by other users and
// tools. Every model, tokenizer and config writer in ragtune uses it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Create opens a new temporary file beside path for a streaming writer,
// which finishes with Commit or, on failure, Abort.
func Create(path string) (*os.File, error) {
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
}

// Commit makes f (from Create, fully written) world readable, syncs and
// closes it, and renames it to path. On failure the caller calls Abort.
func Commit(f *os.File, path string) error {
	// CreateTemp makes the file private (0600); these files are data other
	// users and tools should read.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return os.Rename(f.Name(), path)
}

// Abort closes f (if still open) and removes it.
func Abort(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		Abort(f)
		return err
	}
	if err := Commit(f, path); err != nil {
		Abort(f)
		return err
	}
	return nil
}

// CreateDir makes a new temporary directory beside path, for a writer that
// fills several files and publishes them together with CommitDir (a
// training checkpoint). On failure the caller removes it with os.RemoveAll.
func CreateDir(path string) (string, error) {
	return os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
}

// CommitDir replaces the directory path, if any, by tmp (from CreateDir,
// fully written). Between the removal and the rename path is absent, so
// readers find either the old or the new directory under a pointer file
// written after CommitDir, never a partial one.
func CommitDir(tmp, path string) error {
	if err := os.RemoveAll(path); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
