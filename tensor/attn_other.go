//go:build !amd64 || purego

package tensor

// attnSIMD is false where no exponential kernel exists: the softmax loops
// of attn.go call expNonPos per element.
func attnSIMD() bool { return false }

func expDiffAccAVX2(s, m, l *float32, n int) { panic("tensor: no AVX2 on this build") }

func expSubSumAVX2(s *float32, m float32, n int) float32 { panic("tensor: no AVX2 on this build") }
