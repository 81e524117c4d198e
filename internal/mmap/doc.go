// Package mmap maps model files read-only, so multi-GB weights are paged
// in from disk on demand instead of read into the heap, and lets streaming
// passes drop pages they are done with. Platforms without mmap fall back to
// reading the file.
package mmap
