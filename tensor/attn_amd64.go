//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// Implemented in attn_amd64.s (hand-written).

//go:noescape
func expDiffAccAVX2(s, m, l *float32, n int)

//go:noescape
func expSubSumAVX2(s *float32, m float32, n int) float32

// attnSIMD reports whether the softmax exponentials take the AVX2 kernels:
// on any CPU with AVX2 and FMA unless the portable kernel set is selected,
// so tests of the "go" set run the Go twins.
func attnSIMD() bool { return hasAVX2 && impl != implGo }

//go:noescape
func f16ToF32F16C(dst *float32, src *uint16, n int)

//go:noescape
func f16RowsToF32F16C(dst *float32, src *uint16, rows, hd, stride int)

//go:noescape
func f32ToF16F16C(dst *uint16, src *float32, n int)

var hasF16C = cpu.X86.HasF16C && cpu.X86.HasAVX

// attnF16C reports whether KV cache conversions take the F16C kernels
// (not under the portable kernel set, so its tests run the Go twins).
func attnF16C() bool { return hasF16C && impl != implGo }

//go:noescape
func q8ToF32AVX2(dst *float32, q *int8, d *float32, n int)
