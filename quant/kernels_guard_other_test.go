//go:build !linux

package quant

import "testing"

// guardedBytes returns n zero bytes; only the Linux version puts an
// inaccessible page right after them.
func guardedBytes(t *testing.T, n int) []byte { return make([]byte, n) }
