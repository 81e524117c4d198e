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

// Implemented in kernels_amd64.s (generated: tensor/internal/asmgen).

//go:noescape
func attnScoresF16H1(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16H2(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16H3(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16H4(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16H5(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16H6(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnAccF16H1D4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H2D4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H3D4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H4D4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H5D4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H6D4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H1D8(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H2D8(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16H3D8(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnScoresF16AVX2H1(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16AVX2H2(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnScoresF16AVX2H3(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)

//go:noescape
func attnAccF16AVX2H1(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16AVX2H2(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16AVX2H3(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16AVX2H4(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16AVX2H5(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

//go:noescape
func attnAccF16AVX2H6(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)

type (
	f16ScoresFunc = func(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)
	f16AccFunc    = func(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)
)

var f16DecodeAVX512 = &f16DecodeKernels{
	maxHeads: 6,
	accHeads: 6,
	scores:   [7]f16ScoresFunc{nil, attnScoresF16H1, attnScoresF16H2, attnScoresF16H3, attnScoresF16H4, attnScoresF16H5, attnScoresF16H6},
	acc:      [7]f16AccFunc{nil, attnAccF16H1D4, attnAccF16H2D4, attnAccF16H3D4, attnAccF16H4D4, attnAccF16H5D4, attnAccF16H6D4},
	accWide:  [7]f16AccFunc{nil, attnAccF16H1D8, attnAccF16H2D8, attnAccF16H3D8},
	accCols:  64,
}

var f16DecodeAVX2 = &f16DecodeKernels{
	maxHeads: 3,
	accHeads: 6,
	scores:   [7]f16ScoresFunc{nil, attnScoresF16AVX2H1, attnScoresF16AVX2H2, attnScoresF16AVX2H3},
	acc:      [7]f16AccFunc{nil, attnAccF16AVX2H1, attnAccF16AVX2H2, attnAccF16AVX2H3, attnAccF16AVX2H4, attnAccF16AVX2H5, attnAccF16AVX2H6},
	accCols:  16,
}

func init() {
	if hasF16C {
		implAVX512.f16 = f16DecodeAVX512
		implAVX2.f16 = f16DecodeAVX2
	}
}
