//go:build !unix

package rag

import "time"

// processCPU is not measured here: the scale benchmark reports 0 CPU time.
func processCPU() time.Duration { return 0 }
