package quant

import (
	"math"

	"ragtune/tensor"
)

// The K-quants are llama.cpp's super-block formats: 256 values share one
// or two f16 factors, and each sub-block of 16 or 32 values carries a
// small integer scale (and, for the affine types Q2_K, Q4_K and Q5_K, a
// min) relative to them. Byte layouts and arithmetic follow ggml's
// block_qX_K and its reference (de)quantizers exactly, so files move
// between ragtune and llama.cpp/Ollama unchanged and our values equal
// theirs bit for bit (quant/testdata/kquant_*.bin, written by
// scripts/kquant_llamacpp.c from llama.cpp's own library).
//
// Products that feed a sum are wrapped in float32(...) throughout: Go may
// fuse a*b+c into one FMA (it does on arm64), which rounds once where ggml
// rounds twice, and an explicit conversion forbids the fusion.
const (
	QK_K = 256 // values per K-quant super-block

	Q2_KBlockBytes = 84  // scales[16] (4-bit scale | 4-bit min), qs[64], f16 d, f16 dmin
	Q3_KBlockBytes = 110 // hmask[32], qs[64], scales[12] (6-bit), f16 d
	Q4_KBlockBytes = 144 // f16 d, f16 dmin, scales[12] (6-bit scale and min), qs[128]
	Q5_KBlockBytes = 176 // f16 d, f16 dmin, scales[12], qh[32], qs[128]
	Q8_KBlockBytes = 292 // f32 d, qs[256] int8, bsums[16] int16 (activations only)
)

// groupMaxEps is ggml's threshold under which a group counts as all zero.
const groupMaxEps = 1e-15

// nearestInt rounds half to even through the float32 adder, as ggml's
// nearest_int does (valid for |f| ≤ 2^22; beyond that both give the same
// wrapped value, so the bytes still match).
//
// The explicit float32(f) matters: once inlined, nearestInt(a*b) would
// otherwise let the compiler fuse a*b+12582912 into one FMA on arm64.
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

func putHalfBits(b []byte, h uint16) { b[0], b[1] = byte(h), byte(h>>8) }

// roundHalf is GGML_FP32_TO_FP16 followed by GGML_FP16_TO_FP32.
func roundHalf(f float32) float32 { return tensor.HalfToFloat(tensor.FloatToHalf(f)) }

// scaleMinK4 unpacks sub-block j's 6-bit scale and min from Q4_K/Q5_K's
// 12 scale bytes: sub-blocks 0-3 keep them in the low 6 bits of bytes j
// and j+4; sub-blocks 4-7 split them into a nibble of byte j+4 and the top
// two bits of bytes j-4 and j.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// q3Scale unpacks Q3_K's sub-block j 6-bit scale (still biased by 32):
// low nibble from byte j (j < 8) or the high nibble of byte j-8, top two
// bits from byte 8+j%4 at bit 2·(j/4).
func q3Scale(sc []byte, j int) int32 {
	var lo uint8
	if j < 8 {
		lo = sc[j] & 0xf
	} else {
		lo = sc[j-8] >> 4
	}
	hi := (sc[8+j%4] >> (2 * (j / 4))) & 3
	return int32(lo | hi<<4)
}

// DequantizeQ2_K expands len(dst) values (a multiple of 256) as ggml's
// dequantize_row_q2_K: value = d·scale·q − dmin·min, q in 0..3.
func DequantizeQ2_K(dst []float32, src []byte) {
	nb := len(dst) / QK_K
	_ = src[nb*Q2_KBlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q2_KBlockBytes : (i+1)*Q2_KBlockBytes]
		scales, qs := b[:16], b[16:80]
		d, dmin := getHalf(b[80:]), getHalf(b[82:])
		y := dst[i*QK_K : (i+1)*QK_K]
		// Each 32-byte run of qs holds four 2-bit planes; plane p of
		// run h covers values 128h+32p .. 128h+32p+31, in two sub-blocks.
		for h := 0; h < 2; h++ {
			q := qs[32*h : 32*h+32]
			for p := 0; p < 4; p++ {
				shift := uint(2 * p)
				for half := 0; half < 2; half++ {
					sc := scales[8*h+2*p+half]
					dl, ml := d*float32(sc&0xf), dmin*float32(sc>>4)
					out := y[128*h+32*p+16*half:]
					for l := 0; l < 16; l++ {
						out[l] = float32(dl*float32((q[16*half+l]>>shift)&3)) - ml
					}
				}
			}
		}
	}
}

// DequantizeQ3_K expands len(dst) values as ggml's dequantize_row_q3_K:
// value = d·(scale−32)·(q − 4·[high bit clear]), q's low two bits in qs
// and its third bit in hmask.
func DequantizeQ3_K(dst []float32, src []byte) {
	nb := len(dst) / QK_K
	_ = src[nb*Q3_KBlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q3_KBlockBytes : (i+1)*Q3_KBlockBytes]
		hm, qs, scales := b[:32], b[32:96], b[96:108]
		d := getHalf(b[108:])
		y := dst[i*QK_K : (i+1)*QK_K]
		for h := 0; h < 2; h++ {
			q := qs[32*h : 32*h+32]
			for p := 0; p < 4; p++ {
				shift := uint(2 * p)
				m := uint8(1) << (4*h + p)
				for half := 0; half < 2; half++ {
					dl := d * float32(q3Scale(scales, 8*h+2*p+half)-32)
					out := y[128*h+32*p+16*half:]
					for l := 0; l < 16; l++ {
						v := int32((q[16*half+l] >> shift) & 3)
						if hm[16*half+l]&m == 0 {
							v -= 4
						}
						out[l] = dl * float32(v)
					}
				}
			}
		}
	}
}

// DequantizeQ4_K expands len(dst) values as ggml's dequantize_row_q4_K:
// value = d·scale·q − dmin·min over eight sub-blocks of 32, q in 0..15.
func DequantizeQ4_K(dst []float32, src []byte) {
	nb := len(dst) / QK_K
	_ = src[nb*Q4_KBlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		d, dmin := getHalf(b), getHalf(b[2:])
		scales, qs := b[4:16], b[16:144]
		y := dst[i*QK_K : (i+1)*QK_K]
		// 32 bytes of qs hold two sub-blocks: low nibbles, then high.
		for j := 0; j < 4; j++ {
			q := qs[32*j : 32*j+32]
			sc1, m1 := scaleMinK4(2*j, scales)
			sc2, m2 := scaleMinK4(2*j+1, scales)
			d1, mm1 := d*float32(sc1), dmin*float32(m1)
			d2, mm2 := d*float32(sc2), dmin*float32(m2)
			out := y[64*j : 64*j+64]
			for l := 0; l < 32; l++ {
				out[l] = float32(d1*float32(q[l]&0xf)) - mm1
				out[l+32] = float32(d2*float32(q[l]>>4)) - mm2
			}
		}
	}
}

// DequantizeQ5_K expands len(dst) values as ggml's dequantize_row_q5_K:
// Q4_K with a fifth bit per value from qh.
func DequantizeQ5_K(dst []float32, src []byte) {
	nb := len(dst) / QK_K
	_ = src[nb*Q5_KBlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q5_KBlockBytes : (i+1)*Q5_KBlockBytes]
		d, dmin := getHalf(b), getHalf(b[2:])
		scales, qh, qs := b[4:16], b[16:48], b[48:176]
		y := dst[i*QK_K : (i+1)*QK_K]
		for j := 0; j < 4; j++ {
			q := qs[32*j : 32*j+32]
			u1, u2 := uint8(1)<<(2*j), uint8(2)<<(2*j)
			sc1, m1 := scaleMinK4(2*j, scales)
			sc2, m2 := scaleMinK4(2*j+1, scales)
			d1, mm1 := d*float32(sc1), dmin*float32(m1)
			d2, mm2 := d*float32(sc2), dmin*float32(m2)
			out := y[64*j : 64*j+64]
			for l := 0; l < 32; l++ {
				lo, hi := q[l]&0xf, q[l]>>4
				if qh[l]&u1 != 0 {
					lo += 16
				}
				if qh[l]&u2 != 0 {
					hi += 16
				}
				out[l] = float32(d1*float32(lo)) - mm1
				out[l+32] = float32(d2*float32(hi)) - mm2
			}
		}
	}
}

// DequantizeQ8_K expands Q8_K blocks (value = d·q), as ggml's
// dequantize_row_q8_K; ragtune meets Q8_K only as quantized activations.
func DequantizeQ8_K(dst []float32, src []byte) {
	nb := len(dst) / QK_K
	_ = src[nb*Q8_KBlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q8_KBlockBytes:]
		d := math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		for j := 0; j < QK_K; j++ {
			dst[i*QK_K+j] = d * float32(int8(b[4+j]))
		}
	}
}
