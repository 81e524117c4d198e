//go:build !amd64 || purego

package tensor

// attnSIMD is false where no exponential kernel exists: the softmax loops
// of attn.go call expNonPos per element.
func attnSIMD() bool { return false }

func expDiffAccAVX2(s, m, l *float32, n int) { panic("tensor: no AVX2 on this build") }

func expSubSumAVX2(s *float32, m float32, n int) float32 { panic("tensor: no AVX2 on this build") }

func attnF16C() bool { return false }

func f16ToF32F16C(dst *float32, src *uint16, n int) { panic("tensor: no F16C on this build") }

func f32ToF16F16C(dst *uint16, src *float32, n int) { panic("tensor: no F16C on this build") }

func q8ToF32AVX2(dst *float32, q *int8, d *float32, n int) { panic("tensor: no AVX2 on this build") }

func f16RowsToF32F16C(dst *float32, src *uint16, rows, hd, stride int) {
	panic("tensor: no F16C on this build")
}
