//go:build amd64 && !purego

package tensor

// Implemented in attn_amd64.s (hand-written).

//go:noescape
func expDiffAccAVX2(s, m, l *float32, n int)

//go:noescape
func expSubSumAVX2(s *float32, m float32, n int) float32

// attnSIMD reports whether the softmax exponentials take the AVX2 kernels:
// on any CPU with AVX2 and FMA unless the portable kernel set is selected,
// so tests of the "go" set run the Go twins.
func attnSIMD() bool { return hasAVX2 && impl != implGo }
