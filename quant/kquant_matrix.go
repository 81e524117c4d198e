package quant

import (
	"fmt"
	"sync"

	"ragtune/tensor"
	"ragtune/weights"
)

// kType is one K-quant format's geometry and kernels.
type kType struct {
	blockBytes int
	dequant    func(dst []float32, src []byte)
	quantize   func(dst []byte, src []float32)
	// dot returns Σ w·x over nb super-blocks of one weight row w against
	// Q8_K activations: exact integer sums per sub-block, scaled by the
	// block factors in float32, as llama.cpp's vec_dot_qX_K_q8_K.
	dot func(w []byte, a *q8KActs, nb int) float32
	// dot4, where the CPU has one, is dot for four tokens at once (one
	// weight row, its blocks step bytes apart, against a kActGroup), each
	// result bit-identical to dot's for its token: prefill loads and
	// unpacks each row once per four tokens instead of once per token.
	dot4 func(w []byte, step int, g *kActGroup, nb int, out *[4]float32)
	// rows4, where the CPU has one, is dot for four rows (row r's first
	// block at r·stride bytes of w, each row's blocks step bytes apart)
	// against one token, prefetching pf bytes ahead; each result is
	// bit-identical to dot's for its row: decode shares the per-block
	// reduction and float work among four rows. Types with rows4 are
	// interleaved at load (KMatrix.il).
	rows4 func(w []byte, stride, step, pf int, a *q8KActs, nb int, out *[4]float32)
}

func kTypeOf(d weights.DType) (kType, bool) {
	switch d {
	case weights.Q2_K:
		return kType{Q2_KBlockBytes, DequantizeQ2_K, QuantizeQ2_K, kDots.q2K, nil, nil}, true
	case weights.Q3_K:
		return kType{Q3_KBlockBytes, DequantizeQ3_K, QuantizeQ3_K, kDots.q3K, nil, nil}, true
	case weights.Q4_K:
		return kType{Q4_KBlockBytes, DequantizeQ4_K, QuantizeQ4_K, kDots.q4K, kDots.q4K4, kDots.q4KR4}, true
	case weights.Q5_K:
		return kType{Q5_KBlockBytes, DequantizeQ5_K, QuantizeQ5_K, kDots.q5K, nil, nil}, true
	case weights.Q6_K:
		return kType{Q6_KBlockBytes, DequantizeQ6_K, QuantizeQ6_K, kDots.q6K, kDots.q6K4, kDots.q6KR4}, true
	}
	return kType{}, false
}

// kDotImpls are the K-quant dot products, SIMD versions where the CPU has
// them; the pure-Go ones elsewhere and as twins.
type kDotImpls struct {
	q2K, q3K, q4K, q5K, q6K func(w []byte, a *q8KActs, nb int) float32
	q4K4, q6K4              func(w []byte, step int, g *kActGroup, nb int, out *[4]float32)
	q4KR4, q6KR4            func(w []byte, stride, step, pf int, a *q8KActs, nb int, out *[4]float32)
	name                    string
}

var kDots = kDotImpls{q2K: dotQ2_K, q3K: dotQ3_K, q4K: dotQ4_K, q5K: dotQ5_K, q6K: dotQ6_K, name: "go"}

// IsKQuant reports whether d is one of the K-quants ragtune computes with
// (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
func IsKQuant(d weights.DType) bool {
	_, ok := kTypeOf(d)
	return ok
}

// KMatrix is a Rows×Cols weight matrix stored as K-quant super-blocks:
// row after row as in a GGUF file (NewKMatrix, used in place), or, for the
// types with a four-row decode kernel, interleaved at load (Loader): rows
// in groups of four, the group's blocks stored block by block (row 0's
// block b, row 1's, row 2's, row 3's, then block b+1), so decode reads
// each group as one sequential stream that its prefetches run ahead of,
// instead of four streams a row apart. The rows%4 rows after the last
// group stay as in the file. The bytes are the file's, reordered: no float
// copy, and a Q4_K_M model stays about the size of its file in memory.
type KMatrix struct {
	data       []byte
	rows, cols int
	rowBytes   int
	dtype      weights.DType
	k          kType
	il         int // rows in interleaved groups: 0, or rows rounded down to 4
}

// kPrefetch is how far ahead (bytes) the four-row decode kernels
// prefetch an interleaved matrix: about the distance the Q4_0 tile
// kernels found to hide memory latency on a loaded two-core machine.
const kPrefetch = 4608

// kDecodeGrain is the rows a worker claims at once in decode: large
// enough that each claim is a long sequential stream (a new claim starts
// where no prefetch has run ahead), small enough that two workers share a
// 256-row matrix.
const kDecodeGrain = 64

// NewKMatrix wraps rows×cols weights of K-quant type d without copying
// them. cols must be a multiple of 256.
func NewKMatrix(d weights.DType, data []byte, rows, cols int) (*KMatrix, error) {
	k, ok := kTypeOf(d)
	if !ok {
		return nil, fmt.Errorf("%s is not a K-quant type", d)
	}
	if cols <= 0 || cols%QK_K != 0 {
		return nil, fmt.Errorf("%s rows must hold a multiple of %d values, got %d", d, QK_K, cols)
	}
	rb := cols / QK_K * k.blockBytes
	if rows < 0 || len(data) != rows*rb {
		return nil, fmt.Errorf("%s %d×%d matrix needs %d bytes, got %d; the file is truncated or corrupt", d, rows, cols, rows*rb, len(data))
	}
	return &KMatrix{data: data, rows: rows, cols: cols, rowBytes: rb, dtype: d, k: k}, nil
}

func (m *KMatrix) Rows() int { return m.rows }
func (m *KMatrix) Cols() int { return m.cols }

// DType returns the block type.
func (m *KMatrix) DType() weights.DType { return m.dtype }

// Row expands row r into dst (Cols values), for embedding lookups.
func (m *KMatrix) Row(dst []float32, r int) {
	bb, step := m.k.blockBytes, m.step(r)
	w := m.data[m.rowStart(r):]
	for b := 0; b < m.cols/QK_K; b++ {
		m.k.dequant(dst[b*QK_K:(b+1)*QK_K], w[b*step:b*step+bb])
	}
}

// rowStart is the offset of row r's first block, step the bytes from one
// of its blocks to the next.
func (m *KMatrix) rowStart(r int) int {
	if r < m.il {
		return r/4*4*m.rowBytes + r%4*m.k.blockBytes
	}
	return r * m.rowBytes
}

func (m *KMatrix) step(r int) int {
	if r < m.il {
		return 4 * m.k.blockBytes
	}
	return m.k.blockBytes
}

// interleave returns m with its row groups interleaved (see KMatrix) in a
// new heap array, where the type has a four-row kernel; m itself
// otherwise.
func (m *KMatrix) interleave() *KMatrix {
	if m.k.rows4 == nil || m.rows < 4 {
		return m
	}
	groups, rb, bb, nb := m.rows/4, m.rowBytes, m.k.blockBytes, m.cols/QK_K
	data := make([]byte, len(m.data))
	tensor.ParallelFor(groups, func(lo, hi int) {
		for g := lo; g < hi; g++ {
			dst, src := data[g*4*rb:(g+1)*4*rb], m.data[g*4*rb:(g+1)*4*rb]
			for b := 0; b < nb; b++ {
				for k := range 4 {
					copy(dst[(4*b+k)*bb:(4*b+k+1)*bb], src[k*rb+b*bb:k*rb+(b+1)*bb])
				}
			}
		}
	})
	copy(data[groups*4*rb:], m.data[groups*4*rb:])
	il := *m
	il.data, il.il = data, groups*4
	return &il
}

// MatMul sets out (T, Rows) = inp (T, Cols) @ W^T. Each activation row is
// quantized to Q8_K and dotted with the weight rows in integers, as
// llama.cpp does for decode and prefill alike: a float32 GEMM over decoded
// weights (the Q8_0/Q4_0 prefill path) moved next-token probabilities of
// a Q4_K_M model by ~1% against llama.cpp's, the integer path by under
// 2e-5 (TestKQuantRunsLikeLlamaCpp). Rows are handed out in chunks of 16,
// which stay in cache while every token passes over them.
func (m *KMatrix) MatMul(out, inp []float32, T int) {
	if T <= 0 || m.rows == 0 {
		return
	}
	_ = out[T*m.rows-1]
	_ = inp[T*m.cols-1]
	op := kOpPool.Get().(*kMatOp)
	op.m, op.out, op.T = m, out, T
	op.acts = growActs(op.acts, T)
	nb := m.cols / QK_K
	n := nb * QK_K
	if cap(op.qs) < T*n {
		op.qs = make([]int8, T*n)
	}
	for t := 0; t < T; t++ {
		// All tokens' quantized values in one array, so four of them
		// are one pointer and a stride for the four-token kernels.
		op.acts[t].qs = op.qs[t*n : (t+1)*n : (t+1)*n]
		op.acts[t].quantize(inp[t*m.cols:(t+1)*m.cols], nb)
	}
	op.groups = op.groups[:0]
	if m.k.dot4 != nil {
		for t := 0; t+4 <= T; t += 4 {
			if len(op.groups) < cap(op.groups) {
				op.groups = op.groups[:len(op.groups)+1]
			} else {
				op.groups = append(op.groups, kActGroup{})
			}
			op.groups[len(op.groups)-1].fill(op.qs[t*n:(t+4)*n], op.acts[t:t+4], nb)
		}
	}
	grain := 16
	if len(op.groups) == 0 && T < 4 {
		grain = kDecodeGrain
	}
	tensor.Parallel(tensor.Threads(), m.rows, grain, op)
	op.m, op.out = nil, nil
	kOpPool.Put(op)
}

type kMatOp struct {
	m      *KMatrix
	out    []float32
	acts   []q8KActs
	qs     []int8 // every token's Q8_K values, acts[t].qs are its parts
	groups []kActGroup
	T      int
}

var kOpPool = sync.Pool{New: func() any { return new(kMatOp) }}

func growActs(a []q8KActs, T int) []q8KActs {
	if cap(a) < T {
		b := make([]q8KActs, T)
		copy(b, a[:cap(a)])
		return b
	}
	return a[:T]
}

func (o *kMatOp) Run(_, lo, hi int) {
	m := o.m
	nb := m.cols / QK_K
	g := 0
	if dot8 := kDots8(m.dtype); dot8 != nil {
		for ; g+2 <= len(o.groups); g += 2 {
			var res [8]float32
			for r := lo; r < hi; r++ {
				dot8(m.data[m.rowStart(r):], m.step(r), &o.groups[g], &o.groups[g+1], nb, &res)
				for k, v := range res {
					o.out[(4*g+k)*m.rows+r] = v
				}
			}
		}
	}
	for ; g < len(o.groups); g++ {
		grp := &o.groups[g]
		var res [4]float32
		for r := lo; r < hi; r++ {
			m.k.dot4(m.data[m.rowStart(r):], m.step(r), grp, nb, &res)
			for k, v := range res {
				o.out[(4*g+k)*m.rows+r] = v
			}
		}
	}
	for t := 4 * len(o.groups); t < o.T; t++ {
		a := &o.acts[t]
		row := o.out[t*m.rows : (t+1)*m.rows]
		r := lo
		if m.k.rows4 != nil {
			// Chunks start at multiples of 4 rows, so they never split
			// an interleaved group.
			bb := m.k.blockBytes
			for ; r+4 <= min(hi, m.il); r += 4 {
				m.k.rows4(m.data[r*m.rowBytes:(r+4)*m.rowBytes], bb, 4*bb, kPrefetch, a, nb, (*[4]float32)(row[r:r+4]))
			}
			for ; r+4 <= hi; r += 4 {
				m.k.rows4(m.data[r*m.rowBytes:(r+4)*m.rowBytes], m.rowBytes, bb, 4*m.rowBytes, a, nb, (*[4]float32)(row[r:r+4]))
			}
		}
		for ; r < hi; r++ {
			row[r] = m.k.dot(m.data[r*m.rowBytes:(r+1)*m.rowBytes], a, nb)
		}
	}
}

// kActGroup is four consecutive tokens' Q8_K activations laid out for the
// four-token kernels: their values one after another (qs, stride nb·256)
// and, per super-block, the four factors, pair sums and per-16 sums
// side by side, so a kernel reads each block's with one pointer.
type kActGroup struct {
	qs []int8
	yd []float32 // per block: d of tokens 0..3
	ps []int16   // per block: 4×8 pair sums
	bs []int16   // per block: 4×16 per-16 sums
}

func (g *kActGroup) fill(qs []int8, a []q8KActs, nb int) {
	g.qs = qs
	if cap(g.yd) < nb*4 {
		g.yd = make([]float32, nb*4)
		g.ps = make([]int16, nb*32)
		g.bs = make([]int16, nb*64)
	}
	g.yd, g.ps, g.bs = g.yd[:nb*4], g.ps[:nb*32], g.bs[:nb*64]
	for i := 0; i < nb; i++ {
		for k := range 4 {
			g.yd[i*4+k] = a[k].d[i]
			copy(g.ps[(i*4+k)*8:(i*4+k+1)*8], a[k].ps16[i*8:])
			copy(g.bs[(i*4+k)*16:(i*4+k+1)*16], a[k].bs16[i*16:])
		}
	}
}

// q8KActs is one activation row quantized as ggml's block_q8_K (d,
// qs, bsums), kept as three arrays instead of 292-byte records.
type q8KActs struct {
	qs    []int8
	d     []float32
	bsums []int32 // per 16 values
	psums []int32 // per 32 values (pairs of bsums), for Q4_K/Q5_K's mins
	ps16  []int16 // psums as int16 (|Σ| ≤ 32·127) for the assembly
	bs16  []int16 // bsums as int16, for the assembly
}

// quantize fills a from x (nb·256 values) with quantize_row_q8_K_ref's
// rule: d = max/−127 (the signed value of largest magnitude), q =
// round(x/d) capped at 127.
func (a *q8KActs) quantize(x []float32, nb int) {
	if cap(a.qs) < nb*QK_K {
		a.qs = make([]int8, nb*QK_K)
	}
	if cap(a.d) < nb {
		a.d = make([]float32, nb)
		a.bsums = make([]int32, nb*16)
		a.psums = make([]int32, nb*8)
		a.ps16 = make([]int16, nb*8)
		a.bs16 = make([]int16, nb*16)
	}
	a.qs, a.d, a.bsums, a.psums, a.ps16 = a.qs[:nb*QK_K], a.d[:nb], a.bsums[:nb*16], a.psums[:nb*8], a.ps16[:nb*8]
	a.bs16 = a.bs16[:nb*16]
	for i := 0; i < nb; i++ {
		v := x[i*QK_K : (i+1)*QK_K]
		q := a.qs[i*QK_K : (i+1)*QK_K]
		var max, amax float32
		for _, f := range v {
			if af := abs32(f); af > amax {
				amax, max = af, f
			}
		}
		if amax == 0 {
			clear(q)
			a.d[i] = 0
			clear(a.bsums[i*16 : i*16+16])
			clear(a.psums[i*8 : i*8+8])
			clear(a.ps16[i*8 : i*8+8])
			clear(a.bs16[i*16 : i*16+16])
			continue
		}
		iscale := -127 / max
		for j, f := range v {
			q[j] = int8(min(nearestInt(iscale*f), 127))
		}
		for j := 0; j < 16; j++ {
			var s int32
			for _, qq := range q[16*j : 16*j+16] {
				s += int32(qq)
			}
			a.bsums[i*16+j] = s
			a.bs16[i*16+j] = int16(s)
		}
		for j := 0; j < 8; j++ {
			a.psums[i*8+j] = a.bsums[i*16+2*j] + a.bsums[i*16+2*j+1]
			a.ps16[i*8+j] = int16(a.psums[i*8+j])
		}
		a.d[i] = 1 / iscale
	}
}

// dot32 returns Σ q[l]·y[l] over 32 values with 4-bit or wider
// unsigned weights already extracted into w.
func dotU8I8(w *[32]uint8, y []int8) int32 {
	y = y[:32]
	var s0, s1, s2, s3 int32
	for l := 0; l < 32; l += 4 {
		s0 += int32(w[l]) * int32(y[l])
		s1 += int32(w[l+1]) * int32(y[l+1])
		s2 += int32(w[l+2]) * int32(y[l+2])
		s3 += int32(w[l+3]) * int32(y[l+3])
	}
	return s0 + s1 + s2 + s3
}

func dotQ4_K(w []byte, a *q8KActs, nb int) float32 {
	var sum float32
	var lo, hi [32]uint8
	for i := 0; i < nb; i++ {
		b := w[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		sc, qs := b[4:16], b[16:144]
		y, bs := a.qs[i*QK_K:(i+1)*QK_K], a.bsums[i*16:i*16+16]
		var isum, msum int32
		for j := 0; j < 4; j++ {
			q := qs[32*j : 32*j+32]
			for l := range 32 {
				lo[l], hi[l] = q[l]&0xf, q[l]>>4
			}
			s1, m1 := scaleMinK4(2*j, sc)
			s2, m2 := scaleMinK4(2*j+1, sc)
			isum += int32(s1)*dotU8I8(&lo, y[64*j:]) + int32(s2)*dotU8I8(&hi, y[64*j+32:])
			msum += int32(m1)*(bs[4*j]+bs[4*j+1]) + int32(m2)*(bs[4*j+2]+bs[4*j+3])
		}
		yd := a.d[i]
		d, dmin := float32(getHalf(b)*yd), float32(getHalf(b[2:])*yd)
		sum += float32(d*float32(isum)) - float32(dmin*float32(msum))
	}
	return sum
}

func dotQ5_K(w []byte, a *q8KActs, nb int) float32 {
	var sum float32
	var lo, hi [32]uint8
	for i := 0; i < nb; i++ {
		b := w[i*Q5_KBlockBytes : (i+1)*Q5_KBlockBytes]
		sc, qh, qs := b[4:16], b[16:48], b[48:176]
		y, bs := a.qs[i*QK_K:(i+1)*QK_K], a.bsums[i*16:i*16+16]
		var isum, msum int32
		for j := 0; j < 4; j++ {
			q := qs[32*j : 32*j+32]
			s1, s2 := uint(2*j), uint(2*j+1)
			for l := range 32 {
				lo[l] = q[l]&0xf | (qh[l]>>s1&1)<<4
				hi[l] = q[l]>>4 | (qh[l]>>s2&1)<<4
			}
			c1, m1 := scaleMinK4(2*j, sc)
			c2, m2 := scaleMinK4(2*j+1, sc)
			isum += int32(c1)*dotU8I8(&lo, y[64*j:]) + int32(c2)*dotU8I8(&hi, y[64*j+32:])
			msum += int32(m1)*(bs[4*j]+bs[4*j+1]) + int32(m2)*(bs[4*j+2]+bs[4*j+3])
		}
		yd := a.d[i]
		d, dmin := float32(getHalf(b)*yd), float32(getHalf(b[2:])*yd)
		sum += float32(d*float32(isum)) - float32(dmin*float32(msum))
	}
	return sum
}

func dotQ6_K(w []byte, a *q8KActs, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		b := w[i*Q6_KBlockBytes : (i+1)*Q6_KBlockBytes]
		ql, qh, sc := b[:128], b[128:192], b[192:208]
		y := a.qs[i*QK_K : (i+1)*QK_K]
		var sub [16]int32 // Σ (q−32)·y per 16-value sub-block
		for h := 0; h < 2; h++ {
			ql, qh, y := ql[64*h:64*h+64], qh[32*h:32*h+32], y[128*h:128*h+128]
			s := sub[8*h : 8*h+8]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0xf|(qh[l]&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				s[is] += q1 * int32(y[l])
				s[is+2] += q2 * int32(y[l+32])
				s[is+4] += q3 * int32(y[l+64])
				s[is+6] += q4 * int32(y[l+96])
			}
		}
		var isum int32
		for j, v := range sub {
			isum += int32(int8(sc[j])) * v
		}
		sum += float32(float32(getHalf(b[208:])*a.d[i]) * float32(isum))
	}
	return sum
}

func dotQ3_K(w []byte, a *q8KActs, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		b := w[i*Q3_KBlockBytes : (i+1)*Q3_KBlockBytes]
		hm, qs, sc := b[:32], b[32:96], b[96:108]
		y := a.qs[i*QK_K : (i+1)*QK_K]
		var isum int32
		for h := 0; h < 2; h++ {
			q := qs[32*h : 32*h+32]
			for p := 0; p < 4; p++ {
				shift := uint(2 * p)
				m := uint8(1) << (4*h + p)
				for half := 0; half < 2; half++ {
					yy := y[128*h+32*p+16*half : 128*h+32*p+16*half+16]
					var s int32
					for l := 0; l < 16; l++ {
						v := int32((q[16*half+l] >> shift) & 3)
						if hm[16*half+l]&m == 0 {
							v -= 4
						}
						s += v * int32(yy[l])
					}
					isum += (q3Scale(sc, 8*h+2*p+half) - 32) * s
				}
			}
		}
		sum += float32(float32(getHalf(b[108:])*a.d[i]) * float32(isum))
	}
	return sum
}

func dotQ2_K(w []byte, a *q8KActs, nb int) float32 {
	var sum float32
	for i := 0; i < nb; i++ {
		b := w[i*Q2_KBlockBytes : (i+1)*Q2_KBlockBytes]
		sc, qs := b[:16], b[16:80]
		y, bs := a.qs[i*QK_K:(i+1)*QK_K], a.bsums[i*16:i*16+16]
		var isum, msum int32
		for j := 0; j < 16; j++ {
			msum += int32(sc[j]>>4) * bs[j]
		}
		for h := 0; h < 2; h++ {
			q := qs[32*h : 32*h+32]
			for p := 0; p < 4; p++ {
				shift := uint(2 * p)
				for half := 0; half < 2; half++ {
					yy := y[128*h+32*p+16*half : 128*h+32*p+16*half+16]
					var s int32
					for l := 0; l < 16; l++ {
						s += int32((q[16*half+l]>>shift)&3) * int32(yy[l])
					}
					isum += int32(sc[8*h+2*p+half]&0xf) * s
				}
			}
		}
		yd := a.d[i]
		d, dmin := float32(getHalf(b[80:])*yd), float32(getHalf(b[82:])*yd)
		sum += float32(d*float32(isum)) - float32(dmin*float32(msum))
	}
	return sum
}

// loadKMatrix is Loader's K-quant branch.
func loadKMatrix(t *weights.Tensor) (tensor.Matrix, error) {
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("quant matrix %q: shape %v is not 2-D", t.Name, t.Shape)
	}
	m, err := NewKMatrix(t.DType, t.Data, t.Shape[0], t.Shape[1])
	if err != nil {
		return nil, fmt.Errorf("quant matrix %q: %w", t.Name, err)
	}
	// The copy replaces the mapped blocks: model loaders release a
	// tensor's file pages once its matrix is built.
	return m.interleave(), nil
}
