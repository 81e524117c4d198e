package quant

import (
	"encoding/binary"
	"math"

	"ragtune/weights"
)

// The quantizers below are ggml's quantize_row_*_impl, what llama-quantize
// runs for a tensor its importance matrix covers: the searches of the
// reference quantizers, but each value's error weighted by qw, the mean
// squared activation of its input column (IMatrix.Weights), times how far
// the value is from zero relative to its row or block. Same float32
// operation order as the C code, so the bytes equal llama-quantize's.
// Each takes whole rows: src holds rows of len(qw) values.

// WeightedEncoder returns the importance-weighted row quantizer of a block
// type, or false for a type llama-quantize quantizes the same with or
// without an importance matrix (Q8_0) or that ragtune does not write.
func WeightedEncoder(d weights.DType) (func(dst []byte, src, qw []float32), bool) {
	var row func(y []byte, x, qw []float32)
	switch d {
	case weights.Q2_K:
		row = quantizeQ2_KRowW
	case weights.Q3_K:
		row = quantizeQ3_KRowW
	case weights.Q4_K:
		row = quantizeQ4_KRowW
	case weights.Q5_K:
		row = quantizeQ5_KRowW
	case weights.Q6_K:
		row = func(y []byte, x, qw []float32) { quantizeQ6K(y, x, qw) }
	case weights.Q4_0:
		row = quantizeQ4_0RowW
	case weights.Q4_1:
		row = quantizeQ4_1RowW
	case weights.Q5_0:
		row = quantizeQ5_0RowW
	case weights.Q5_1:
		row = quantizeQ5_1RowW
	default:
		return nil, false
	}
	return func(dst []byte, src, qw []float32) {
		n := len(qw)
		rb, err := RowBytes(d, n)
		if err != nil {
			panic(err) // callers check the row width (QuantizeTensorWeighted does)
		}
		for r := 0; r < len(src)/n; r++ {
			row(dst[r*rb:(r+1)*rb], src[r*n:(r+1)*n], qw)
		}
	}, true
}

// sqrt32 is C's sqrtf (the float64 square root of a float32 rounds to the
// same float32).
func sqrt32(f float32) float32 { return float32(math.Sqrt(float64(f))) }

// sumSquares adds x² left to right, as the C loops do.
func sumSquares(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s
}

// importanceWeights sets w[l] = qw[l]·√(sigma2 + x[l]²): a value matters
// by its column's activations and by its own size against the row's.
func importanceWeights(w, qw, x []float32, sigma2 float32) {
	for l, v := range x {
		w[l] = qw[l] * sqrt32(sigma2+float32(v*v))
	}
}

// makeQKX3Quants is ggml's make_qkx3_quants with weights and squared
// error: like makeQKX2Quants, an affine fit value ≈ scale·l − min with
// l in 0..nmax, over nstep+1 candidate scales refined by weighted least
// squares. It returns the scale and the (positive) min.
func makeQKX3Quants(nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
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
	if mx <= mn {
		clear(L[:n])
		return 0, -mn
	}
	fn := float32(nmax)
	iscale := fn / (mx - mn)
	scale = 1 / iscale
	var bestMAD float32
	for i, v := range x {
		L[i] = uint8(min(max32(nearestInt(iscale*(v-mn)), 0), int32(nmax)))
		diff := float32(scale*float32(L[i])) + mn - v
		bestMAD += float32(weights[i] * float32(diff*diff))
	}
	if nstep < 1 {
		return scale, -mn
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fn) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := min(max32(nearestInt(iscale*(v-mn)), 0), int32(nmax))
			Laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * v)
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
				diff := float32(thisScale*float32(Laux[i])) + thisMin - v
				mad += float32(weights[i] * float32(diff*diff))
			}
			if mad < bestMAD {
				copy(L[:n], Laux[:n])
				bestMAD, scale, mn = mad, thisScale, thisMin
			}
		}
	}
	return scale, -mn
}

// makeQPQuants is ggml's make_qp_quants: a scale for non-negative values
// (the sub-block scales and mins of a K-quant block) with levels 0..nmax,
// chosen among nine candidates by weighted squared error and then refined
// one level at a time, as make_q3_quants does. L receives the levels; a
// level below zero wraps as C's uint8_t conversion does.
func makeQPQuants(nmax int, x []float32, L []uint8, qw []float32) float32 {
	var mx float32
	for _, v := range x {
		if !(mx > v) {
			mx = v
		}
	}
	if mx == 0 {
		clear(L[:len(x)])
		return 0
	}
	fn := float32(nmax)
	iscale := fn / mx
	for i, v := range x {
		L[i] = uint8(nearestInt(iscale * v))
	}
	scale := 1 / iscale
	var bestMSE float32
	for i, v := range x {
		diff := v - float32(scale*float32(L[i]))
		bestMSE += float32(float32(qw[i]*diff) * diff)
	}
	for is := -4; is <= 4; is++ {
		if is == 0 {
			continue
		}
		iscaleIs := (float32(0.1*float32(is)) + fn) / mx
		scaleIs := 1 / iscaleIs
		var mse float32
		for i, v := range x {
			l := min(int32(nmax), nearestInt(iscaleIs*v))
			diff := v - float32(scaleIs*float32(l))
			mse += float32(float32(qw[i]*diff) * diff)
		}
		if mse < bestMSE {
			bestMSE, iscale = mse, iscaleIs
		}
	}
	var sumlx, suml2 float32
	for i, v := range x {
		l := min(int32(nmax), nearestInt(iscale*v))
		L[i] = uint8(l)
		w, fl := qw[i], float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i, v := range x {
			w, li := qw[i], float32(L[i])
			slx := sumlx - float32(float32(w*v)*li)
			sl2 := suml2 - float32(float32(w*li)*li)
			if slx > 0 && sl2 > 0 {
				nl := min(int32(nmax), nearestInt(float32(v*sl2)/slx))
				if nl != int32(L[i]) {
					fn := float32(nl)
					slx += float32(float32(w*v) * fn)
					sl2 += float32(float32(w*fn) * fn)
					if float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = uint8(nl)
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
	return sumlx / suml2
}

// quantizeQ2_KRowW is quantize_row_q2_K_impl.
func quantizeQ2_KRowW(dst []byte, src, qw []float32) {
	var L [QK_K]uint8
	var Laux [16]uint8
	var weight, mins, scales, sw [16]float32
	var Ls, Lm [16]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q2_KBlockBytes : (i+1)*Q2_KBlockBytes]
		sigma2 := sumSquares(x) / QK_K
		for j := 0; j < 16; j++ {
			xs := x[16*j : 16*j+16]
			importanceWeights(weight[:], qw[QK_K*i+16*j:], xs, sigma2)
			sw[j] = 0
			for _, w := range weight {
				sw[j] += w
			}
			scales[j], mins[j] = makeQKX3Quants(3, xs, weight[:], L[16*j:16*j+16], Laux[:], -0.9, 0.05, 36)
		}
		dm := makeQPQuants(15, scales[:], Ls[:], sw[:])
		mm := makeQPQuants(15, mins[:], Lm[:], sw[:])
		putHalfBits(y[80:], fp16(dm))
		putHalfBits(y[82:], fp16(mm))
		dm, mm = getHalf(y[80:]), getHalf(y[82:])
		sc := y[:16]
		for j := range sc {
			sc[j] = Ls[j] | Lm[j]<<4
		}
		for j := 0; j < 16; j++ {
			d := dm * float32(sc[j]&0xf)
			if d == 0 {
				continue
			}
			m := mm * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = uint8(min(max32(nearestInt((x[16*j+ii]+m)/d), 0), 3))
			}
		}
		pack2Bit(y[16:80], L[:])
	}
}

// quantizeQ3_KRowW is quantize_row_q3_K_impl.
func quantizeQ3_KRowW(dst []byte, src, qw []float32) {
	var L [QK_K]int8
	var weight, scales, sw [16]float32
	var Ls [16]int8
	for i := 0; i < len(src)/QK_K; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q3_KBlockBytes : (i+1)*Q3_KBlockBytes]
		sigma2 := 2 * sumSquares(x) / QK_K
		for j := 0; j < 16; j++ {
			xs := x[16*j : 16*j+16]
			importanceWeights(weight[:], qw[QK_K*i+16*j:], xs, sigma2)
			var sumw float32
			for _, w := range weight {
				sumw += w
			}
			sw[j] = sumw
			scales[j] = makeQXQuantsW(4, xs, L[16*j:16*j+16], weight[:])
		}
		sc := y[96:108]
		clear(sc)
		dBlock := makeQXQuantsW(32, scales[:], Ls[:], sw[:])
		for j := 0; j < 16; j++ {
			l := uint8(Ls[j])
			if j < 8 {
				sc[j] = l & 0xf
			} else {
				sc[j-8] |= (l & 0xf) << 4
			}
			l >>= 4
			sc[j%4+8] |= l << (2 * (j / 4))
		}
		putHalfBits(y[108:], fp16(dBlock))
		q3KPackLevels(y, x, &L)
	}
}

// k4ScalesW is the weighted Q4_K/Q5_K block head: affine fits of the eight
// sub-blocks of 32 under importance weights, their scales and mins
// quantized to 6 bits by makeQPQuants (capped at 63 where capped is set,
// as the Q5_K code does), packed into b[4:16] with d and dmin in b[0:4],
// and the final levels 0..nmax in L.
func k4ScalesW(b []byte, x, qw []float32, L []uint8, nmax int, capped bool) {
	var Laux [32]uint8
	var weight [32]float32
	var mins, scales, sw [8]float32
	var Ls, Lm [8]uint8
	sigma2 := 2 * sumSquares(x) / QK_K
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		importanceWeights(weight[:], qw[32*j:], xs, sigma2)
		var sumw float32
		for _, w := range weight {
			sumw += w
		}
		sw[j] = sumw
		scales[j], mins[j] = makeQKX3Quants(nmax, xs, weight[:], L[32*j:32*j+32], Laux[:], -0.9, 0.05, 36)
	}
	dBlock := makeQPQuants(63, scales[:], Ls[:], sw[:])
	mBlock := makeQPQuants(63, mins[:], Lm[:], sw[:])
	sc := b[4:16]
	for j := 0; j < 8; j++ {
		ls, lm := Ls[j], Lm[j]
		if capped {
			ls, lm = min(63, ls), min(63, lm)
		}
		if j < 4 {
			sc[j], sc[j+4] = ls, lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putHalfBits(b, fp16(dBlock))
	putHalfBits(b[2:], fp16(mBlock))
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

// quantizeQ4_KRowW is quantize_row_q4_K_impl.
func quantizeQ4_KRowW(dst []byte, src, qw []float32) {
	var L [QK_K]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		y := dst[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		k4ScalesW(y, src[i*QK_K:(i+1)*QK_K], qw[i*QK_K:], L[:], 15, false)
		q := y[16:]
		for j := 0; j < 4; j++ {
			for l := 0; l < 32; l++ {
				q[32*j+l] = L[64*j+l] | L[64*j+l+32]<<4
			}
		}
	}
}

// quantizeQ5_KRowW is quantize_row_q5_K_impl.
func quantizeQ5_KRowW(dst []byte, src, qw []float32) {
	var L [QK_K]uint8
	for i := 0; i < len(src)/QK_K; i++ {
		y := dst[i*Q5_KBlockBytes : (i+1)*Q5_KBlockBytes]
		k4ScalesW(y, src[i*QK_K:(i+1)*QK_K], qw[i*QK_K:], L[:], 31, true)
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

// quantizeQ4_0RowW is quantize_row_q4_0_impl: per block of 32, the
// weighted symmetric fit of make_qx_quants with levels −8..7; sigma2 is
// the mean square of the whole row.
func quantizeQ4_0RowW(dst []byte, src, qw []float32) {
	var weight [BlockSize]float32
	var L [BlockSize]int8
	sigma2 := sumSquares(src) / float32(len(src))
	for ib := 0; ib < len(src)/BlockSize; ib++ {
		xb := src[ib*BlockSize : (ib+1)*BlockSize]
		y := dst[ib*Q4_0BlockBytes : (ib+1)*Q4_0BlockBytes]
		importanceWeights(weight[:], qw[ib*BlockSize:], xb, sigma2)
		putHalfBits(y, fp16(makeQXQuantsW(8, xb, L[:], weight[:])))
		for j := 0; j < 16; j++ {
			y[2+j] = uint8(L[j]) | uint8(L[j+16])<<4
		}
	}
}

// quantizeQ4_1RowW is quantize_row_q4_1_impl: the weighted affine fit of
// make_qkx3_quants with levels 0..15.
func quantizeQ4_1RowW(dst []byte, src, qw []float32) {
	var weight [BlockSize]float32
	var L, Laux [BlockSize]uint8
	sigma2 := sumSquares(src) / float32(len(src))
	for ib := 0; ib < len(src)/BlockSize; ib++ {
		xb := src[ib*BlockSize : (ib+1)*BlockSize]
		y := dst[ib*Q4_1BlockBytes : (ib+1)*Q4_1BlockBytes]
		importanceWeights(weight[:], qw[ib*BlockSize:], xb, sigma2)
		d, theMin := makeQKX3Quants(15, xb, weight[:], L[:], Laux[:], -0.9, 0.05, 36)
		putHalfBits(y, fp16(d))
		putHalfBits(y[2:], fp16(-theMin))
		for j := 0; j < 16; j++ {
			y[4+j] = L[j] | L[j+16]<<4
		}
	}
}

// packQ5 stores 32 five-bit levels as Q5_0/Q5_1 do: low nibbles in qs,
// fifth bits in the 32-bit qh.
func packQ5(qh, qs []byte, L func(j int) uint8) {
	var h uint32
	for j := 0; j < 16; j++ {
		x0, x1 := L(j), L(j+16)
		qs[j] = x0&0xf | (x1&0xf)<<4
		h |= uint32(x0&0x10>>4) << j
		h |= uint32(x1&0x10>>4) << (j + 16)
	}
	binary.LittleEndian.PutUint32(qh, h)
}

// quantizeQ5_0RowW is quantize_row_q5_0_impl (levels −16..15).
func quantizeQ5_0RowW(dst []byte, src, qw []float32) {
	var weight [BlockSize]float32
	var L [BlockSize]int8
	sigma2 := sumSquares(src) / float32(len(src))
	for ib := 0; ib < len(src)/BlockSize; ib++ {
		xb := src[ib*BlockSize : (ib+1)*BlockSize]
		y := dst[ib*Q5_0BlockBytes : (ib+1)*Q5_0BlockBytes]
		importanceWeights(weight[:], qw[ib*BlockSize:], xb, sigma2)
		putHalfBits(y, fp16(makeQXQuantsW(16, xb, L[:], weight[:])))
		packQ5(y[2:6], y[6:22], func(j int) uint8 { return uint8(L[j]) })
	}
}

// quantizeQ5_1RowW is quantize_row_q5_1_impl: the weighted affine fit of
// make_qkx3_quants with levels 0..31.
func quantizeQ5_1RowW(dst []byte, src, qw []float32) {
	var weight [BlockSize]float32
	var L, Laux [BlockSize]uint8
	sigma2 := sumSquares(src) / float32(len(src))
	for ib := 0; ib < len(src)/BlockSize; ib++ {
		xb := src[ib*BlockSize : (ib+1)*BlockSize]
		y := dst[ib*Q5_1BlockBytes : (ib+1)*Q5_1BlockBytes]
		importanceWeights(weight[:], qw[ib*BlockSize:], xb, sigma2)
		d, theMin := makeQKX3Quants(31, xb, weight[:], L[:], Laux[:], -0.9, 0.05, 36)
		putHalfBits(y, fp16(d))
		putHalfBits(y[2:], fp16(-theMin))
		packQ5(y[4:8], y[8:24], func(j int) uint8 { return L[j] })
	}
}
