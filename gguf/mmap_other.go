//go:build !unix

package gguf

import "os"

// mapFile falls back to reading the file where mmap is unavailable.
func mapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}

// releasePages is a no-op where files are read into memory.
func releasePages(mapping, data []byte) {}
