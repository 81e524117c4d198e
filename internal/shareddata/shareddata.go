// Package shareddata locates the read-only test data in ../shared/data next
// to the repository, so tests can use it when present and skip with a clear
// message on a fresh clone, where it is absent.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Root returns the repository root (the directory holding go.mod), found by
// walking up from the working directory; "" if none.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Path returns ../shared/data/<parts...> relative to the repository root,
// or skips the test when it does not exist.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(), "..", "shared", "data"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test data %s not found (it lives in ../shared/data beside the repository, present in CI): %v", filepath.Join(parts...), err)
	}
	return p
}
