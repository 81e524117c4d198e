// Package atomicfile finishes the temp-file-and-rename writes every model
// writer uses, so a crash never leaves a half-written file under the final
// name and the finished file is readable by other users and tools.
package atomicfile

import (
	"fmt"
	"os"
)

// Commit makes f (a temporary file beside path, fully written) world
// readable, syncs and closes it, and renames it to path. The caller
// removes the temporary file if Commit fails.
func Commit(f *os.File, path string) error {
	// CreateTemp makes the file private (0600); a model file is data
	// other users and tools should read.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return os.Rename(f.Name(), path)
}
