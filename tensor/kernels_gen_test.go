package tensor

import (
	"testing"

	"ragtune/internal/gentest"
)

// TestGeneratedFiles reruns every //go:generate line of kernels.go and
// compares its output with the committed file.
func TestGeneratedFiles(t *testing.T) { gentest.Check(t, "kernels.go", "./tensor/...") }
