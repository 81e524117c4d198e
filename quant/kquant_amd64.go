//go:build amd64 && !purego

package quant

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"

	"ragtune/tensor"
)

// Implemented in kquant_amd64.s.

//go:noescape
func q4KDotsAVX2(w *byte, y *int8, sc *int16, out *int32, nb int)

//go:noescape
func q6KDotsAVX2(w *byte, y *int8, sc *int16, out *int32, nb int)

//go:noescape
func q5KDotsAVX2(w *byte, y *int8, sc *int16, out *int32, nb int)

//go:noescape
func q2KDotsAVX2(w *byte, y *int8, sc *int16, out *int32, nb int)

//go:noescape
func q3KDotsAVX2(w *byte, y *int8, sc *int16, out *int32, nb int)

//go:noescape
func q4KRowAVX2(w *byte, y *int8, yd *float32, ps *int16, nb int) float32

//go:noescape
func q6KRowAVX2(w *byte, y *int8, yd *float32, bs *int16, nb int) float32

//go:noescape
func q4KDots4AVX2(w *byte, y *int8, ystride int, yd *float32, ps *int16, nb int, step int, pf int, out *float32)

//go:noescape
func q4KRows4AVX2(w *byte, stride int, y *int8, yd *float32, ps *int16, nb int, step int, pf int, out *float32)

//go:noescape
func q6KRows4AVX2(w *byte, stride int, y *int8, yd *float32, bs *int16, nb int, step int, pf int, out *float32)

//go:noescape
func q6KDots4AVX2(w *byte, y *int8, ystride int, yd *float32, bs *int16, nb int, step int, pf int, out *float32)

// halfTable is tensor.HalfToFloat for every f16 bit pattern: the block
// factors are read once per block per token, where the branchy
// conversion showed in profiles.
var halfTable [1 << 16]float32

func kHalf(b []byte) float32 { return halfTable[uint16(b[0])|uint16(b[1])<<8] }

// q4KScales unpacks Q4_K's eight 6-bit scales and mins (scaleMinK4 for
// j = 0..7) four at a time from the 12 scale bytes as 32-bit words.
func q4KScales(q *[12]byte) (sc, mn [8]uint8) {
	u0, u1, u2 := binary.LittleEndian.Uint32(q[0:]), binary.LittleEndian.Uint32(q[4:]), binary.LittleEndian.Uint32(q[8:])
	binary.LittleEndian.PutUint32(sc[0:], u0&0x3f3f3f3f)
	binary.LittleEndian.PutUint32(mn[0:], u1&0x3f3f3f3f)
	binary.LittleEndian.PutUint32(sc[4:], u2&0x0f0f0f0f|(u0>>6&0x03030303)<<4)
	binary.LittleEndian.PutUint32(mn[4:], u2>>4&0x0f0f0f0f|(u1>>6&0x03030303)<<4)
	return sc, mn
}

func init() {
	for i := range halfTable {
		halfTable[i] = tensor.HalfToFloat(uint16(i))
	}
	if cpu.X86.HasAVX2 {
		kDots = kDotImpls{q2K: dotQ2_KAVX2, q3K: dotQ3_KAVX2, q4K: dotQ4_KAVX2, q5K: dotQ5_KAVX2, q6K: dotQ6_KAVX2,
			name: "avx2"}
		if cpu.X86.HasF16C {
			kDots.q4K, kDots.q6K = dotQ4_KRowAVX2, dotQ6_KRowAVX2
			kDots.q4K4, kDots.q6K4 = dotQ4_K4AVX2, dotQ6_K4AVX2
			kDots.q4KR4, kDots.q6KR4 = dotQ4_KRows4AVX2, dotQ6_KRows4AVX2
		}
	}
}

// kChunk is how many super-blocks a wrapper prepares per assembly call
// (stack scratch of a few KiB).
const kChunk = 16

// dotQ4_KAVX2 is dotQ4_K with the integer part in assembly; the float
// arithmetic is the same, in the same order, so results are identical.
func dotQ4_KAVX2(w []byte, a *q8KActs, nb int) float32 {
	return dotQ45_KAVX2(w, a, nb, Q4_KBlockBytes, q4KDotsAVX2)
}

// dotQ5_KAVX2 is dotQ5_K with the integer part in assembly (the Q4_K
// scheme; the fifth bits are added in the assembly).
func dotQ5_KAVX2(w []byte, a *q8KActs, nb int) float32 {
	return dotQ45_KAVX2(w, a, nb, Q5_KBlockBytes, q5KDotsAVX2)
}

// dotQ45_KAVX2 prepares Q4_K/Q5_K super-blocks (they share the scale and
// min layout: d, dmin, 12 scale bytes first) for dots, kChunk at a time,
// and combines its integer sums with the block factors.
func dotQ45_KAVX2(w []byte, a *q8KActs, nb, blockBytes int, dots func(w *byte, y *int8, sc *int16, out *int32, nb int)) float32 {
	var sc [kChunk * 8]int16
	var isum, msum [kChunk]int32
	var sum float32
	for b0 := 0; b0 < nb; b0 += kChunk {
		n := min(kChunk, nb-b0)
		for i := 0; i < n; i++ {
			scs, mns := q4KScales((*[12]byte)(w[(b0+i)*blockBytes+4:]))
			ps := (*[8]int32)(a.psums[(b0+i)*8:])
			dst := (*[8]int16)(sc[i*8:])
			var ms int32
			for j := range 8 {
				dst[j] = int16(scs[j])
				ms += int32(mns[j]) * ps[j]
			}
			msum[i] = ms
		}
		dots(&w[b0*blockBytes], &a.qs[b0*QK_K], &sc[0], &isum[0], n)
		for i := 0; i < n; i++ {
			b := w[(b0+i)*blockBytes:]
			yd := a.d[b0+i]
			d, dmin := float32(kHalf(b)*yd), float32(kHalf(b[2:])*yd)
			sum += float32(d*float32(isum[i])) - float32(dmin*float32(msum[i]))
		}
	}
	return sum
}

// dotQ6_KAVX2 is dotQ6_K with the integer part in assembly: the assembly
// sums scale·q·y with q in 0..63, and the −32 offset comes off here as
// 32·Σ scale·Σy, Σy being Q8_K's per-16 sums.
func dotQ6_KAVX2(w []byte, a *q8KActs, nb int) float32 {
	var sc [kChunk * 16]int16
	var isum, off [kChunk]int32
	var sum float32
	for b0 := 0; b0 < nb; b0 += kChunk {
		n := min(kChunk, nb-b0)
		for i := 0; i < n; i++ {
			s := (*[16]byte)(w[(b0+i)*Q6_KBlockBytes+192:])
			bs := (*[16]int32)(a.bsums[(b0+i)*16:])
			dst := (*[16]int16)(sc[i*16:])
			var o int32
			for j := range 16 {
				v := int32(int8(s[j]))
				dst[j] = int16(v)
				o += v * bs[j]
			}
			off[i] = 32 * o
		}
		q6KDotsAVX2(&w[b0*Q6_KBlockBytes], &a.qs[b0*QK_K], &sc[0], &isum[0], n)
		for i := 0; i < n; i++ {
			d := kHalf(w[(b0+i)*Q6_KBlockBytes+208:])
			sum += float32(float32(d*a.d[b0+i]) * float32(isum[i]-off[i]))
		}
	}
	return sum
}

// dotQ2_KAVX2 is dotQ2_K with the integer part in assembly.
func dotQ2_KAVX2(w []byte, a *q8KActs, nb int) float32 {
	var sc [kChunk * 16]int16
	var isum, msum [kChunk]int32
	var sum float32
	for b0 := 0; b0 < nb; b0 += kChunk {
		n := min(kChunk, nb-b0)
		for i := 0; i < n; i++ {
			s := (*[16]byte)(w[(b0+i)*Q2_KBlockBytes:])
			bs := (*[16]int32)(a.bsums[(b0+i)*16:])
			dst := (*[16]int16)(sc[i*16:])
			var ms int32
			for j := range 16 {
				dst[j] = int16(s[j] & 0xf)
				ms += int32(s[j]>>4) * bs[j]
			}
			msum[i] = ms
		}
		q2KDotsAVX2(&w[b0*Q2_KBlockBytes], &a.qs[b0*QK_K], &sc[0], &isum[0], n)
		for i := 0; i < n; i++ {
			b := w[(b0+i)*Q2_KBlockBytes:]
			yd := a.d[b0+i]
			d, dmin := float32(kHalf(b[80:])*yd), float32(kHalf(b[82:])*yd)
			sum += float32(d*float32(isum[i])) - float32(dmin*float32(msum[i]))
		}
	}
	return sum
}

// dotQ3_KAVX2 is dotQ3_K with the integer part in assembly: the assembly
// sums scale·(q+4)·y, and 4·Σ scale·Σy comes off here.
func dotQ3_KAVX2(w []byte, a *q8KActs, nb int) float32 {
	var sc [kChunk * 16]int16
	var isum, off [kChunk]int32
	var sum float32
	for b0 := 0; b0 < nb; b0 += kChunk {
		n := min(kChunk, nb-b0)
		for i := 0; i < n; i++ {
			s := w[(b0+i)*Q3_KBlockBytes+96 : (b0+i)*Q3_KBlockBytes+108]
			bs := (*[16]int32)(a.bsums[(b0+i)*16:])
			dst := (*[16]int16)(sc[i*16:])
			var o int32
			for j := range 16 {
				v := q3Scale(s, j) - 32
				dst[j] = int16(v)
				o += v * bs[j]
			}
			off[i] = 4 * o
		}
		q3KDotsAVX2(&w[b0*Q3_KBlockBytes], &a.qs[b0*QK_K], &sc[0], &isum[0], n)
		for i := 0; i < n; i++ {
			d := kHalf(w[(b0+i)*Q3_KBlockBytes+108:])
			sum += float32(float32(d*a.d[b0+i]) * float32(isum[i]-off[i]))
		}
	}
	return sum
}

// dotQ4_KRowAVX2 is dotQ4_K entirely in assembly (needs F16C for the
// block factors).
func dotQ4_KRowAVX2(w []byte, a *q8KActs, nb int) float32 {
	if nb == 0 {
		return 0
	}
	_ = w[nb*Q4_KBlockBytes-1]
	_ = a.qs[nb*QK_K-1]
	_ = a.ps16[nb*8-1]
	return q4KRowAVX2(&w[0], &a.qs[0], &a.d[0], &a.ps16[0], nb)
}

// dotQ6_KRowAVX2 is dotQ6_K entirely in assembly (needs F16C).
func dotQ6_KRowAVX2(w []byte, a *q8KActs, nb int) float32 {
	if nb == 0 {
		return 0
	}
	_ = w[nb*Q6_KBlockBytes-1]
	_ = a.qs[nb*QK_K-1]
	_ = a.bs16[nb*16-1]
	return q6KRowAVX2(&w[0], &a.qs[0], &a.d[0], &a.bs16[0], nb)
}

// dotQ4_K4AVX2 is dotQ4_KRowAVX2 for the four tokens of g, the row's
// blocks step bytes apart, prefetching the row four blocks ahead (needs
// F16C).
func dotQ4_K4AVX2(w []byte, step int, g *kActGroup, nb int, out *[4]float32) {
	if nb == 0 {
		*out = [4]float32{}
		return
	}
	_ = w[(nb-1)*step+Q4_KBlockBytes-1]
	_ = g.qs[4*nb*QK_K-1]
	_ = g.yd[nb*4-1]
	_ = g.ps[nb*32-1]
	q4KDots4AVX2(&w[0], &g.qs[0], nb*QK_K, &g.yd[0], &g.ps[0], nb, step, 4*step, &out[0])
}

// dotQ6_K4AVX2 is dotQ6_KRowAVX2 for the four tokens of g, the row's
// blocks step bytes apart (needs F16C).
func dotQ6_K4AVX2(w []byte, step int, g *kActGroup, nb int, out *[4]float32) {
	if nb == 0 {
		*out = [4]float32{}
		return
	}
	_ = w[(nb-1)*step+Q6_KBlockBytes-1]
	_ = g.qs[4*nb*QK_K-1]
	_ = g.yd[nb*4-1]
	_ = g.bs[nb*64-1]
	q6KDots4AVX2(&w[0], &g.qs[0], nb*QK_K, &g.yd[0], &g.bs[0], nb, step, 4*step, &out[0])
}

// dotQ4_KRows4AVX2 is dotQ4_KRowAVX2 for four rows against one token: row
// r's first block at r·stride bytes of w, each row's blocks step bytes
// apart, prefetching pf bytes ahead (needs F16C).
func dotQ4_KRows4AVX2(w []byte, stride, step, pf int, a *q8KActs, nb int, out *[4]float32) {
	if nb == 0 {
		*out = [4]float32{}
		return
	}
	_ = w[3*stride+(nb-1)*step+Q4_KBlockBytes-1]
	_ = a.qs[nb*QK_K-1]
	_ = a.d[nb-1]
	_ = a.ps16[nb*8-1]
	q4KRows4AVX2(&w[0], stride, &a.qs[0], &a.d[0], &a.ps16[0], nb, step, pf, &out[0])
}

// dotQ6_KRows4AVX2 is dotQ6_KRowAVX2 for four rows against one token
// (layout arguments as dotQ4_KRows4AVX2; needs F16C).
func dotQ6_KRows4AVX2(w []byte, stride, step, pf int, a *q8KActs, nb int, out *[4]float32) {
	if nb == 0 {
		*out = [4]float32{}
		return
	}
	_ = w[3*stride+(nb-1)*step+Q6_KBlockBytes-1]
	_ = a.qs[nb*QK_K-1]
	_ = a.d[nb-1]
	_ = a.bs16[nb*16-1]
	q6KRows4AVX2(&w[0], stride, &a.qs[0], &a.d[0], &a.bs16[0], nb, step, pf, &out[0])
}
