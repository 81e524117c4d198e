//go:build !unix

package mmap

import "os"

// Map falls back to reading the file where mmap is unavailable.
func Map(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}

// ReleasePages is a no-op where files are read into memory.
func ReleasePages(mapping, data []byte) {}
