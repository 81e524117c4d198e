//go:build amd64 && !purego

package quant

import "golang.org/x/sys/cpu"

// Implemented in kquant_panel_amd64.s.

//go:noescape
func q6KDots8AVX2(w *byte, step int, y0, y1 *int8, ystride int, yd0, yd1 *float32, bs0, bs1 *int16, nb int, out *float32)

//go:noescape
func q6KDots8AVX512(w *byte, step int, y0, y1 *int8, ystride int, yd0, yd1 *float32, bs0, bs1 *int16, nb int, out *float32)

// hasQ6KDots8AVX512: VPDPWSSD, VPERMW and the variable word shifts on zmm
// (AVX512 BW and VNNI), their 256-bit forms (VL).
var hasQ6KDots8AVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI && cpu.X86.HasF16C

func init() {
	// VCVTPH2PS (F16C) converts the block factors.
	if cpu.X86.HasAVX2 && cpu.X86.HasF16C {
		q6KDots8 = dotQ6_K8AVX2
	}
	if hasQ6KDots8AVX512 {
		q6KDots8 = dotQ6_K8AVX512
	}
}

// dotQ6_K8AVX2 is dotQ6_K for the four tokens of g0 and then the four of
// g1 (out[0:4] and out[4:8]), the row's blocks step bytes apart in w.
func dotQ6_K8AVX2(w []byte, step int, g0, g1 *kActGroup, nb int, out *[8]float32) {
	if nb == 0 {
		*out = [8]float32{}
		return
	}
	_ = w[(nb-1)*step+Q6_KBlockBytes-1]
	_, _, _ = g0.qs[4*nb*QK_K-1], g0.yd[nb*4-1], g0.bs[nb*64-1]
	_, _, _ = g1.qs[4*nb*QK_K-1], g1.yd[nb*4-1], g1.bs[nb*64-1]
	q6KDots8AVX2(&w[0], step, &g0.qs[0], &g1.qs[0], nb*QK_K, &g0.yd[0], &g1.yd[0], &g0.bs[0], &g1.bs[0], nb, &out[0])
}

// dotQ6_K8AVX512 is dotQ6_K8AVX2 on the AVX-512 kernel.
func dotQ6_K8AVX512(w []byte, step int, g0, g1 *kActGroup, nb int, out *[8]float32) {
	if nb == 0 {
		*out = [8]float32{}
		return
	}
	_ = w[(nb-1)*step+Q6_KBlockBytes-1]
	_, _, _ = g0.qs[4*nb*QK_K-1], g0.yd[nb*4-1], g0.bs[nb*64-1]
	_, _, _ = g1.qs[4*nb*QK_K-1], g1.yd[nb*4-1], g1.bs[nb*64-1]
	q6KDots8AVX512(&w[0], step, &g0.qs[0], &g1.qs[0], nb*QK_K, &g0.yd[0], &g1.yd[0], &g0.bs[0], &g1.bs[0], nb, &out[0])
}
