//go:build !unix

package rag

// lockDir is a no-op where flock is unavailable: a single writer per
// knowledge base is then the user's responsibility.
func lockDir(path string) (func(), error) { return func() {}, nil }
