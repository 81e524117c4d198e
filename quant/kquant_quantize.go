package quant

import (
	"encoding/binary"
	"math"

	"ragtune/tensor"
)

// The quantizers below are ggml's reference quantizers without an
// importance matrix (quantize_row_qX_K_ref, which llama-quantize runs when
// no --imatrix is given): the same searches over candidate scales, in the
// same float32 operation order, so the bytes they write equal
// llama-quantize's. Each takes len(src) values, a multiple of 256, and
// fills len(src)/256 blocks of dst.

// makeQXQuants picks a symmetric scale for n values with levels
// -nmax..nmax-1 weighted by x² (ggml's make_qx_quants with rmse_type 1):
// the plain amax scale, then 18 nearby scales, keeping the one with the
// least weighted squared error. L receives level+nmax.
func makeQXQuants(nmax int, x []float32, L []int8) float32 { return makeQXQuantsW(nmax, x, L, nil) }

// makeQXQuantsW is makeQXQuants with the weights qw instead of x² where
// qw is not nil (make_qx_quants given quant weights).
func makeQXQuantsW(nmax int, x []float32, L []int8, qw []float32) float32 {
	weight := func(i int, v float32) float32 {
		if qw != nil {
			return qw[i]
		}
		return float32(v * v)
	}
	var max, amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, max = a, v
		}
	}
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	fn := float32(nmax)
	iscale := -fn / max
	clampL := func(l int32) int32 { return min(max32(l, int32(-nmax)), int32(nmax-1)) }
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampL(nearestInt(iscale * v))
		L[i] = int8(l + int32(nmax))
		w := weight(i, v)
		fl := float32(l)
		sumlx += float32(w * v * fl)
		suml2 += float32(w * fl * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fn + float32(0.1*float32(is))) / max
		sumlx, suml2 = 0, 0
		for i, v := range x {
			fl := float32(clampL(nearestInt(iscale * v)))
			w := weight(i, v)
			sumlx += float32(w * v * fl)
			suml2 += float32(w * fl * fl)
		}
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i, v := range x {
				L[i] = int8(clampL(nearestInt(iscale*v)) + int32(nmax))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// makeQ3Quants is ggml's make_q3_quants with do_rmse: start from the amax
// scale, then move single values to the level that best raises the
// weighted fit (weights x²), up to five passes. L receives level+nmax,
// or 0 for an all-zero group.
func makeQ3Quants(nmax int, x []float32, L []int8) float32 {
	var max, amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, max = a, v
		}
	}
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	iscale := -float32(nmax) / max
	var sumlx, suml2 float32
	for i, v := range x {
		l := min(max32(nearestInt(iscale*v), int32(-nmax)), int32(nmax-1))
		L[i] = int8(l)
		w := float32(v * v)
		fl := float32(l)
		sumlx += float32(w * v * fl)
		suml2 += float32(w * fl * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i, v := range x {
			w := float32(v * v)
			li := float32(L[i])
			slx := sumlx - float32(w*v*li)
			if slx > 0 {
				sl2 := suml2 - float32(w*li*li)
				nl := min(max32(nearestInt(v*sl2/slx), int32(-nmax)), int32(nmax-1))
				if nl != int32(L[i]) {
					fn := float32(nl)
					slx += float32(w * v * fn)
					sl2 += float32(w * fn * fn)
					if sl2 > 0 && float32(slx*slx*suml2) > float32(sumlx*sumlx*sl2) {
						L[i] = int8(nl)
						sumlx, suml2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := range x {
		L[i] += int8(nmax)
	}
	return sumlx / suml2
}

// makeQKX2Quants fits an affine map value ≈ scale·l − min, l in 0..nmax,
// with per-value weights (ggml's make_qkx2_quants): the min–max fit, then
// nstep+1 candidate scales each refined by weighted least squares, keeping
// the least weighted error (absolute if useMAD, else squared). It returns
// the scale and the (positive) min; L receives the levels, Laux is scratch.
func makeQKX2Quants(nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int, useMAD bool) (scale, theMin float32) {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < mn {
			mn = x[i]
		}
		if x[i] > mx {
			mx = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		clear(L[:n])
		return 0, -mn
	}
	fn := float32(nmax)
	iscale := fn / (mx - mn)
	scale = 1 / iscale
	errOf := func(sc, m float32, l uint8, v float32) float32 {
		diff := float32(sc*float32(l)) + m - v
		if useMAD {
			return abs32(diff)
		}
		return float32(diff * diff)
	}
	var bestMAD float32
	for i, v := range x {
		l := min(max32(nearestInt(iscale*(v-mn)), 0), int32(nmax))
		L[i] = uint8(l)
		bestMAD += float32(weights[i] * errOf(scale, mn, L[i], v))
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fn) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := min(max32(nearestInt(iscale*(v-mn)), 0), int32(nmax))
			Laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(w * fl * fl)
			sumXL += float32(w * fl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var mad float32
			for i, v := range x {
				mad += float32(weights[i] * errOf(thisScale, thisMin, Laux[i], v))
			}
			if mad < bestMAD {
				copy(L[:n], Laux[:n])
				bestMAD, scale, mn = mad, thisScale, thisMin
			}
		}
	}
	return scale, -mn
}

// QuantizeQ2_K writes len(src)/256 Q2_K blocks (quantize_row_q2_K_ref).
func QuantizeQ2_K(dst []byte, src []float32) {
	var L [QK_K]uint8
	var Laux [16]uint8
	var weights [16]float32
	var mins, scales [16]float32
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q2_KBlockBytes : (i+1)*Q2_KBlockBytes]
		var maxScale, maxMin float32
		for j := 0; j < 16; j++ {
			xs := x[16*j : 16*j+16]
			for l, v := range xs {
				weights[l] = abs32(v)
			}
			scales[j], mins[j] = makeQKX2Quants(3, xs, weights[:], L[16*j:16*j+16], Laux[:], -0.5, 0.1, 15, true)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		sc := y[:16]
		if maxScale > 0 {
			iscale := 15 / maxScale
			for j := range sc {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			putHalfBits(y[80:], fp16(maxScale/15))
		} else {
			clear(sc)
			putHalfBits(y[80:], 0)
		}
		if maxMin > 0 {
			iscale := 15 / maxMin
			for j := range sc {
				sc[j] |= uint8(nearestInt(iscale*mins[j]) << 4)
			}
			putHalfBits(y[82:], fp16(maxMin/15))
		} else {
			putHalfBits(y[82:], 0)
		}
		d, dmin := getHalf(y[80:]), getHalf(y[82:])
		for j := 0; j < 16; j++ {
			dl := d * float32(sc[j]&0xf)
			if dl == 0 {
				continue
			}
			dm := dmin * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = uint8(min(max32(nearestInt((x[16*j+ii]+dm)/dl), 0), 3))
			}
		}
		pack2Bit(y[16:80], L[:])
	}
}

// pack2Bit stores 256 2-bit levels as Q2_K/Q3_K do: byte l of each
// 32-byte run holds values l, l+32, l+64 and l+96 of its 128.
func pack2Bit(qs []byte, L []uint8) {
	for j := 0; j < QK_K; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
		}
	}
}

func fp16(f float32) uint16 { return tensor.FloatToHalf(f) }

// QuantizeQ3_K writes len(src)/256 Q3_K blocks (quantize_row_q3_K_ref).
func QuantizeQ3_K(dst []byte, src []float32) {
	var L [QK_K]int8
	var scales [16]float32
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q3_KBlockBytes : (i+1)*Q3_KBlockBytes]
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3Quants(4, x[16*j:16*j+16], L[16*j:16*j+16])
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		sc := y[96:108]
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := int8(nearestInt(iscale * scales[j]))
				l = min(max(l, -32), 31) + 32
				if j < 8 {
					sc[j] = uint8(l) & 0xf
				} else {
					sc[j-8] |= (uint8(l) & 0xf) << 4
				}
				l >>= 4
				sc[j%4+8] |= uint8(l) << (2 * (j / 4))
			}
			putHalfBits(y[108:], fp16(1/iscale))
		} else {
			putHalfBits(y[108:], 0)
		}
		q3KPackLevels(y, x, &L)
	}
}

// q3KPackLevels finishes a Q3_K block whose scales (y[96:108]) and super
// scale (y[108:]) are written: each value is requantized with its
// sub-block's rounded scale, as llama.cpp does after rounding the scales,
// and the levels go out as the high-bit mask (y[:32]) and two-bit pairs
// (y[32:96]). The weighted and unweighted quantizers share it.
func q3KPackLevels(y []byte, x []float32, L *[QK_K]int8) {
	sc := y[96:108]
	d := getHalf(y[108:])
	for j := 0; j < 16; j++ {
		dl := d * float32(int8(q3Scale(sc, j))-32)
		if dl == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			L[16*j+ii] = int8(min(max32(nearestInt(x[16*j+ii]/dl), -4), 3) + 4)
		}
	}
	hm := y[:32]
	clear(hm)
	var u [QK_K]uint8
	for j := 0; j < QK_K; j++ {
		// The third bit of value j goes to hmask byte j%32, bit j/32.
		if L[j] > 3 {
			hm[j%32] |= 1 << (j / 32)
			L[j] -= 4
		}
		u[j] = uint8(L[j])
	}
	pack2Bit(y[32:96], u[:])
}

// quantizeK4Scales is Q4_K and Q5_K's shared part: affine fits of eight
// sub-blocks of 32 (weights rms+|x|), their 6-bit scales and mins packed
// into b[4:16] with d and dmin in b[0:4], and the final levels in L.
func quantizeK4Scales(b []byte, x []float32, L []uint8, nmax int, rmin float32, nstep int) {
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(nmax, xs, weights[:], L[32*j:32*j+32], Laux[:], rmin, 0.1, nstep, false)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := b[4:16]
	for j := 0; j < 8; j++ {
		ls := min(uint8(nearestInt(invScale*scales[j])), 63)
		lm := min(uint8(nearestInt(invMin*mins[j])), 63)
		if j < 4 {
			sc[j], sc[j+4] = ls, lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putHalfBits(b, fp16(maxScale/63))
	putHalfBits(b[2:], fp16(maxMin/63))
	d, dmin := getHalf(b), getHalf(b[2:])
	for j := 0; j < 8; j++ {
		s, m := scaleMinK4(j, sc)
		dl := d * float32(s)
		if dl == 0 {
			continue
		}
		dm := dmin * float32(m)
		for ii := 0; ii < 32; ii++ {
			L[32*j+ii] = uint8(min(max32(nearestInt((x[32*j+ii]+dm)/dl), 0), int32(nmax)))
		}
	}
}

// QuantizeQ4_K writes len(src)/256 Q4_K blocks (quantize_row_q4_K_ref).
func QuantizeQ4_K(dst []byte, src []float32) {
	var L [QK_K]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		quantizeK4Scales(y, x, L[:], 15, -1, 20)
		q := y[16:]
		for j := 0; j < 4; j++ {
			for l := 0; l < 32; l++ {
				q[32*j+l] = L[64*j+l] | L[64*j+l+32]<<4
			}
		}
	}
}

// QuantizeQ5_K writes len(src)/256 Q5_K blocks (quantize_row_q5_K_ref).
func QuantizeQ5_K(dst []byte, src []float32) {
	var L [QK_K]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q5_KBlockBytes : (i+1)*Q5_KBlockBytes]
		quantizeK4Scales(y, x, L[:], 31, -0.5, 15)
		qh, ql := y[16:48], y[48:176]
		clear(qh)
		for j := 0; j < 4; j++ {
			m1, m2 := uint8(1)<<(2*j), uint8(2)<<(2*j)
			for l := 0; l < 32; l++ {
				l1, l2 := L[64*j+l], L[64*j+l+32]
				if l1 > 15 {
					l1 -= 16
					qh[l] |= m1
				}
				if l2 > 15 {
					l2 -= 16
					qh[l] |= m2
				}
				ql[32*j+l] = l1 | l2<<4
			}
		}
	}
}

// QuantizeQ6_K writes len(src)/256 Q6_K blocks (quantize_row_q6_K_ref).
func QuantizeQ6_K(dst []byte, src []float32) { quantizeQ6K(dst, src, nil) }

// quantizeQ6K is QuantizeQ6_K, or with qw (one row's importance weights,
// len(src) of them) quantize_row_q6_K_impl, whose only difference is
// that each group's scale search weighs its values by qw instead of x².
func quantizeQ6K(dst []byte, src, qw []float32) {
	var L [QK_K]int8
	var scales [16]float32
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q6_KBlockBytes : (i+1)*Q6_KBlockBytes]
		var maxScale, maxAbs float32
		for j := 0; j < 16; j++ {
			var w []float32
			if qw != nil {
				w = qw[QK_K*i+16*j : QK_K*i+16*j+16]
			}
			scales[j] = makeQXQuantsW(32, x[16*j:16*j+16], L[16*j:16*j+16], w)
			if a := abs32(scales[j]); a > maxAbs {
				maxAbs, maxScale = a, scales[j]
			}
		}
		if maxAbs < groupMaxEps {
			clear(y)
			continue
		}
		iscale := -128 / maxScale
		putHalfBits(y[208:], fp16(1/iscale))
		sc := y[192:208]
		for j := range sc {
			sc[j] = uint8(int8(min(nearestInt(iscale*scales[j]), 127)))
		}
		d := getHalf(y[208:])
		for j := 0; j < 16; j++ {
			dl := d * float32(int8(sc[j]))
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = int8(min(max32(nearestInt(x[16*j+ii]/dl), -32), 31) + 32)
			}
		}
		ql, qh := y[:128], y[128:192]
		for h := 0; h < 2; h++ {
			Lh, ql, qh := L[128*h:], ql[64*h:], qh[32*h:]
			for l := 0; l < 32; l++ {
				q1, q2, q3, q4 := uint8(Lh[l]), uint8(Lh[l+32]), uint8(Lh[l+64]), uint8(Lh[l+96])
				ql[l] = q1&0xf | (q3&0xf)<<4
				ql[l+32] = q2&0xf | (q4&0xf)<<4
				qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}

// QuantizeQ8_K writes len(src)/256 Q8_K blocks (quantize_row_q8_K_ref):
// d = max/−127 in f32, q = round(x/d) capped at 127, and per-16 sums of q
// that the K-quant dot products use to apply the mins.
func QuantizeQ8_K(dst []byte, src []float32) {
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q8_KBlockBytes : (i+1)*Q8_KBlockBytes]
		var max, amax float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax, max = a, v
			}
		}
		if amax == 0 {
			clear(y)
			continue
		}
		iscale := -127 / max
		qs := y[4:260]
		for j, v := range x {
			qs[j] = uint8(int8(min(nearestInt(iscale*v), 127)))
		}
		for j := 0; j < 16; j++ {
			var s int16
			for _, q := range qs[16*j : 16*j+16] {
				s += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(y[260+2*j:], uint16(s))
		}
		binary.LittleEndian.PutUint32(y, math.Float32bits(1/iscale))
	}
}
