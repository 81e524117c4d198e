//go:build unix

package mmap

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Map maps the whole file read-only. The mapping outlives the file
// descriptor, which is closed before returning.
func Map(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	if size != int64(int(size)) {
		return nil, nil, fmt.Errorf("file of %d bytes is too large to map", size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return data, func() error { return unix.Munmap(data) }, nil
}

// ReleasePages drops this process's mapping of the whole pages of data,
// which must lie inside mapping (a read-only file mapping: the pages fault
// back in from the file if touched again, unlike anonymous memory, which
// MADV_DONTNEED would zero). Anything else is left alone.
func ReleasePages(mapping, data []byte) {
	if len(mapping) == 0 || len(data) == 0 {
		return
	}
	mStart := uintptr(unsafe.Pointer(&mapping[0]))
	start := uintptr(unsafe.Pointer(&data[0]))
	if start < mStart || start+uintptr(len(data)) > mStart+uintptr(len(mapping)) {
		return
	}
	page := uintptr(os.Getpagesize())
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(data))) &^ (page - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(mapping[lo-mStart:hi-mStart], unix.MADV_DONTNEED)
}
