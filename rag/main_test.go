package rag

import (
	"os"
	"testing"

	"ragtune/internal/weaviatetest"
)

// TestMain stops the Weaviate node the package's tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	weaviatetest.StopShared()
	os.Exit(code)
}
