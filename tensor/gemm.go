package tensor

import "sync"

// Blocking for the packed GEMM. The micro-kernel holds an mr×nr tile of C in
// registers and streams one row of B (nr floats) and mr broadcasts of A per
// step of k; the blocks below keep those streams in L1/L2:
//   - gemmKC: k-block, so an mr×KC strip of A (24 KiB at mr=12) stays in L1
//     while it meets every panel of B;
//   - gemmMC×gemmNB: the C block one work unit owns (forward: weight rows ×
//     tokens), whose k-blocks of packed tokens (NB×KC, 256 KiB) sit in L2.
const (
	gemmKC = 512
	gemmMC = 192 // a multiple of every kernel's mr (12, 6, 8, 4)
	gemmNB = 128 // a multiple of every kernel's nr (32, 16, 8)
	// matvecMaxT is the largest T that runs as T matrix-vector products
	// (weights streamed once per token from cache) instead of packing.
	matvecMaxT = 3
)

// scratch is one op's reusable memory; ops take it from a sync.Pool so
// steady-state calls allocate nothing and concurrent callers never share.
type scratch struct {
	packed []float32   // packed B panels, shared by all workers
	padA   []float32   // zero-padded copy of A's last partial tile
	padB   []float32   // zero-padded copy of B's last partial panel
	local  [][]float32 // per-worker C blocks / tiles
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func (s *scratch) locals(nt, n int) {
	for len(s.local) < nt {
		s.local = append(s.local, nil)
	}
	for i := 0; i < nt; i++ {
		s.local[i] = grow(s.local[i], n)
	}
}

// MatMul sets out (T, OC) = inp (T, C) @ w^T + bias, with w (OC, C) and
// bias (OC) or nil. PyTorch: out = F.linear(inp, w, bias).
func MatMul(out, inp, w, bias []float32, T, C, OC int) {
	if T <= 0 || OC <= 0 {
		return
	}
	_ = out[T*OC-1]
	if C == 0 {
		for t := 0; t < T; t++ {
			for o := 0; o < OC; o++ {
				out[t*OC+o] = 0
				if bias != nil {
					out[t*OC+o] = bias[o]
				}
			}
		}
		return
	}
	_ = inp[T*C-1]
	_ = w[OC*C-1]
	if bias != nil {
		_ = bias[OC-1]
	}
	if T <= matvecMaxT {
		matVec(out, inp, w, bias, T, C, OC)
		return
	}
	op := fwdOpPool.Get().(*fwdOp)
	op.setup(out, inp, w, nil, bias, T, C, OC)
	op.run()
}

// RowDecoder supplies a weight matrix stored in another format (quantized
// blocks) as float32, one small block at a time, so MatMulDecoded can run
// it through the float32 GEMM kernel without expanding the whole matrix.
type RowDecoder interface {
	// DecodeRows writes rows [r0, r1) × columns [c0, c1) row-major into
	// dst. c0 and c1-c0 are multiples of DecodeAlign unless c1 is the
	// column count.
	DecodeRows(dst []float32, r0, r1, c0, c1 int)
}

// DecodeAlign is the column granularity of DecodeRows calls (a multiple of
// the 32-weight quantization blocks).
const DecodeAlign = gemmKC

// MatMulDecoded sets out (T, OC) = inp (T, C) @ W^T + bias for a weight W
// (OC, C) read through dec: the prefill path of quantized matrices. Each
// weight is decoded once per call (per 128 tokens) into a cache-sized
// buffer and meets all tokens there, so decoding costs little next to the
// multiply once T is more than a few tokens.
func MatMulDecoded(out, inp []float32, dec RowDecoder, bias []float32, T, C, OC int) {
	if T <= 0 || OC <= 0 || C <= 0 {
		return
	}
	_ = out[T*OC-1]
	_ = inp[T*C-1]
	op := fwdOpPool.Get().(*fwdOp)
	op.setup(out, inp, nil, dec, bias, T, C, OC)
	op.run()
}

func (op *fwdOp) run() {
	op.phase = 0
	ParallelFor(op.npan, op.packTask)
	op.phase = 1
	parallelDynamic(op.nt, op.nOB*op.nTB, 1, op)
	op.release()
}

// matVec computes out = inp @ w^T + bias for small T, four weight rows per
// step so each load of x feeds four rows; the weight matrix is streamed once.
func matVec(out, inp, w, bias []float32, T, C, OC int) {
	op := mvOpPool.Get().(*mvOp)
	*op = mvOp{k: impl, out: out, inp: inp, w: w, bias: bias, T: T, C: C, OC: OC}
	// Chunks of 64 rows: big enough to amortize the hand-off, small enough
	// to balance two cores when one is shared with another process.
	parallelDynamic(Threads(), (OC+3)/4, 16, op)
	*op = mvOp{}
	mvOpPool.Put(op)
}

type mvOp struct {
	k                 *kernels
	out, inp, w, bias []float32
	T, C, OC          int
}

var mvOpPool = sync.Pool{New: func() any { return new(mvOp) }}

func (o *mvOp) Run(_, lo, hi int) {
	k, C, OC := o.k, o.C, o.OC
	m := C &^ (k.width - 1)
	var r4 [4]float32
	for g := lo; g < hi; g++ {
		r0 := g * 4
		nr := min(4, OC-r0)
		for t := 0; t < o.T; t++ {
			x := o.inp[t*C : t*C+C]
			if nr == 4 {
				if m > 0 {
					r4[0], r4[1], r4[2], r4[3] = k.dot4(&x[0], &o.w[r0*C], C*4, m)
				} else {
					r4 = [4]float32{}
				}
				for i := 0; i < 4; i++ {
					row := o.w[(r0+i)*C : (r0+i)*C+C]
					for j := m; j < C; j++ {
						r4[i] += x[j] * row[j]
					}
				}
			} else {
				for i := 0; i < nr; i++ {
					r4[i] = Dot(x, o.w[(r0+i)*C:(r0+i)*C+C])
				}
			}
			dst := o.out[t*OC+r0 : t*OC+r0+nr]
			for i := range dst {
				v := r4[i]
				if o.bias != nil {
					v += o.bias[r0+i]
				}
				dst[i] = v
			}
		}
	}
}

// fwdOp is MatMul's packed path. It computes out^T = w · inp^T so the
// weights are read in place (rows of w are the kernel's A) and only the
// small activation matrix is packed: panel p holds tokens [p*nr, p*nr+nr)
// transposed, packed[p][k][j] = inp[p*nr+j][k], zero past T.
type fwdOp struct {
	k                 *kernels
	out, inp, w, bias []float32
	dec               RowDecoder
	T, C, OC          int
	nt, npan          int
	nOB, nTB          int
	phase             int
	s                 *scratch
	packTask          func(lo, hi int)
}

var fwdOpPool = sync.Pool{New: func() any {
	op := new(fwdOp)
	op.packTask = op.pack
	return op
}}

func (o *fwdOp) setup(out, inp, w []float32, dec RowDecoder, bias []float32, T, C, OC int) {
	k := impl
	o.k, o.out, o.inp, o.w, o.dec, o.bias, o.T, o.C, o.OC = k, out, inp, w, dec, bias, T, C, OC
	o.nt = Threads()
	o.npan = (T + k.nr - 1) / k.nr
	o.nOB = (OC + gemmMC - 1) / gemmMC
	o.nTB = (T + gemmNB - 1) / gemmNB
	s := scratchPool.Get().(*scratch)
	o.s = s
	s.packed = grow(s.packed, o.npan*C*k.nr)
	if rem := OC % k.mr; rem != 0 && dec == nil {
		s.padA = grow(s.padA, k.mr*C)
		copy(s.padA, w[(OC-rem)*C:OC*C])
		clear(s.padA[rem*C:])
	}
	s.locals(o.nt, gemmMC*gemmNB+k.mr*gemmKC)
}

func (o *fwdOp) release() {
	scratchPool.Put(o.s)
	pt := o.packTask
	*o = fwdOp{packTask: pt}
	fwdOpPool.Put(o)
}

func (o *fwdOp) pack(lo, hi int) {
	k, nr, C, T := o.k, o.k.nr, o.C, o.T
	c8 := C &^ 7
	for p := lo; p < hi; p++ {
		dst := o.s.packed[p*C*nr : (p+1)*C*nr]
		if k.transpose8 != nil && (p+1)*nr <= T && c8 > 0 {
			// 256 columns at a time, so the nr rows of the block being
			// written (256×nr floats) stay in L1 across the nr/8 calls.
			for k0 := 0; k0 < c8; k0 += 256 {
				n := min(256, c8-k0)
				for j := 0; j < nr; j += 8 {
					src := o.inp[(p*nr+j)*C+k0 : (p*nr+j+7)*C+k0+n]
					k.transpose8(&dst[k0*nr+j], nr*4, &src[0], C*4, n)
				}
			}
			packTokens(dst, o.inp, p*nr, nr, T, C, c8, C)
			continue
		}
		packTokens(dst, o.inp, p*nr, nr, T, C, 0, C)
	}
}

// packTokens writes columns [k0, k1) of panel dst: dst[k*nr+j] =
// inp[(t0+j)*C+k], zero for tokens past T.
func packTokens(dst, inp []float32, t0, nr, T, C, k0, k1 int) {
	// 64 columns at a time, so the block being written (64×nr floats)
	// stays in L1 while the nr rows are read into it.
	for c0 := k0; c0 < k1; c0 += 64 {
		c1 := min(c0+64, k1)
		for j := 0; j < nr; j++ {
			t := t0 + j
			if t >= T {
				for k := c0; k < c1; k++ {
					dst[k*nr+j] = 0
				}
				continue
			}
			row := inp[t*C+c0 : t*C+c1]
			for k, v := range row {
				dst[(c0+k)*nr+j] = v
			}
		}
	}
}

func (o *fwdOp) Run(w, lo, hi int) {
	for u := lo; u < hi; u++ {
		o.unit(o.s.local[w], u/o.nTB, u%o.nTB)
	}
}

// unit computes the C block of weight rows [o0, o1) × tokens [t0, t1) into
// cb (rows × gemmNB, transposed relative to out), then scatters it.
func (o *fwdOp) unit(local []float32, ob, tb int) {
	cb, abuf := local[:gemmMC*gemmNB], local[gemmMC*gemmNB:]
	k, C, OC := o.k, o.C, o.OC
	mr, nr := k.mr, k.nr
	o0, o1 := ob*gemmMC, min(OC, ob*gemmMC+gemmMC)
	t0, t1 := tb*gemmNB, min(o.T, tb*gemmNB+gemmNB)
	p0, p1 := t0/nr, (t1+nr-1)/nr
	full := OC - OC%mr // rows past this come from padA
	for kc := 0; kc < C; kc += gemmKC {
		kl := min(gemmKC, C-kc)
		accum := 0
		if kc > 0 {
			accum = 1
		}
		for r := o0; r < o1; r += mr {
			var a *float32
			lda := C * 4
			switch {
			case o.dec != nil:
				r1 := min(r+mr, OC)
				o.dec.DecodeRows(abuf[:(r1-r)*kl], r, r1, kc, kc+kl)
				clear(abuf[(r1-r)*kl : mr*kl])
				a, lda = &abuf[0], kl*4
			case r < full:
				a = &o.w[r*C+kc]
			default:
				a = &o.s.padA[kc]
			}
			// While the strip meets the panels, the next strip's weight
			// rows (in place, usually from memory) are fetched into L2,
			// one row per panel.
			nr0, nc0 := r+mr, kc
			if nr0 >= o1 {
				nr0, nc0 = o0, kc+gemmKC
			}
			pf := o.dec == nil && k.prefetch != nil && nc0 < C
			for p := p0; p < p1; p++ {
				if i := p - p0; pf && i < mr && nr0+i < full {
					k.prefetch(&o.w[(nr0+i)*C+nc0], 0, 1, min(gemmKC, C-nc0)*4)
				}
				k.gemmR(kl, a, lda, &o.s.packed[p*C*nr+kc*nr], nr*4,
					&cb[(r-o0)*gemmNB+(p-p0)*nr], gemmNB*4, accum)
			}
		}
	}
	n := o1 - o0
	t := t0
	if k.transpose8 != nil && n >= 8 && t1-t0 >= 8 {
		// Eight weight rows × eight tokens per register transpose; the
		// bias follows as one vector add per token row.
		n8, t8 := n&^7, (t1-t0)&^7
		// Tokens outside, weight rows inside: each pass writes eight rows
		// of out from left to right (whole cache lines, one after the
		// other) rather than 32 bytes to each of 128 rows 4·OC bytes apart.
		for tt := 0; tt < t8; tt += 8 {
			for i := 0; i < n8; i += 8 {
				k.transpose8(&o.out[(t0+tt)*OC+o0+i], OC*4, &cb[i*gemmNB+tt], gemmNB*4, 8)
			}
		}
		if n8 < n {
			for tt := t0; tt < t0+t8; tt++ {
				dst := o.out[tt*OC+o0+n8 : tt*OC+o1]
				src := cb[n8*gemmNB+tt-t0:]
				for i := range dst {
					dst[i] = src[i*gemmNB]
				}
			}
		}
		if o.bias != nil {
			for tt := t0; tt < t0+t8; tt++ {
				Axpy(o.out[tt*OC+o0:tt*OC+o1], o.bias[o0:o1], 1)
			}
		}
		t = t0 + t8
	}
	// The rest is transposed four tokens at a time: each row of cb gives
	// four neighbouring floats (one load's worth) to four rows of out,
	// instead of one float per pass over cb's 192 rows.
	var zero [gemmMC]float32
	b := zero[:n]
	if o.bias != nil {
		b = o.bias[o0:o1]
	}
	for ; t+4 <= t1; t += 4 {
		d0 := o.out[t*OC+o0 : t*OC+o1]
		d1 := o.out[(t+1)*OC+o0 : (t+1)*OC+o1]
		d2 := o.out[(t+2)*OC+o0 : (t+2)*OC+o1]
		d3 := o.out[(t+3)*OC+o0 : (t+3)*OC+o1]
		for i := range n {
			src := (*[4]float32)(cb[i*gemmNB+t-t0:])
			bi := b[i]
			d0[i], d1[i], d2[i], d3[i] = src[0]+bi, src[1]+bi, src[2]+bi, src[3]+bi
		}
	}
	for ; t < t1; t++ {
		dst := o.out[t*OC+o0 : t*OC+o1]
		src := cb[t-t0:]
		for i := range dst {
			dst[i] = src[i*gemmNB] + b[i]
		}
	}
}

// MatMulBackward accumulates the gradients of out = inp @ w^T + bias:
// dinp (T, C) += dout @ w, dw (OC, C) += dout^T @ inp, dbias (OC) += Σ_t dout.
// Any of dinp, dw, dbias may be nil when that gradient is not needed.
func MatMulBackward(dinp, dw, dbias, dout, inp, w []float32, T, C, OC int) {
	if T <= 0 || OC <= 0 {
		return
	}
	_ = dout[T*OC-1]
	if dbias != nil {
		_ = dbias[OC-1]
		for t := 0; t < T; t++ {
			Axpy(dbias[:OC], dout[t*OC:t*OC+OC], 1)
		}
	}
	if C == 0 {
		return
	}
	if dinp != nil {
		_ = dinp[T*C-1]
		_ = w[OC*C-1]
		// dinp (T, C) += dout (T, OC) · w (OC, C): A = rows of dout.
		gemmNN(dinp, dout, OC*4, false, w, T, C, OC)
	}
	if dw != nil {
		_ = dw[OC*C-1]
		_ = inp[T*C-1]
		// dw (OC, C) += dout^T (OC, T) · inp (T, C): A = columns of dout.
		gemmNN(dw, dout, OC*4, true, inp, OC, C, T)
	}
}

// gemmNN accumulates c (M, N) += A (M, K) · b (K, N) with b and c row-major.
// A(i,k) = a[i*lda/4 + k], or a[k*lda/4 + i] when aCols.
//
// b is a weight matrix in the input gradient (dinp += dout · w) and an
// activation matrix in the weight gradient; read in place, the kernel's
// k-th step would touch row k of b, nr floats at a stride of N floats, so a
// k-block would span hundreds of pages and, at strides that are multiples
// of 2 KiB, a handful of cache sets. Each work unit therefore packs its
// k-block of b (nnKC × nnNB) into nr-wide panels first, which the kernel
// then streams contiguously from L2 while one mr-row strip of A stays in
// L1. A unit covers all of M where there are enough column blocks to share
// out, so each block of b is packed once; A is packed only when it is
// columns (a strided gather of mr floats per k), never when it is rows.
func gemmNN(c, a []float32, lda int, aCols bool, b []float32, M, N, K int) {
	op := nnOpPool.Get().(*nnOp)
	k := impl
	nt := Threads()
	*op = nnOp{k: k, c: c, a: a, b: b, lda: lda, aCols: aCols, M: M, N: N, K: K}
	s := scratchPool.Get().(*scratch)
	op.s = s
	mr, nr := k.mr, k.nr
	if rem := M % mr; rem != 0 && !aCols {
		// The last row strip reads a zero-padded copy so the kernel never
		// reads past a.
		s.padA = grow(s.padA, mr*K)
		clear(s.padA)
		m0 := M - rem
		for i := 0; i < rem; i++ {
			copy(s.padA[i*K:i*K+K], a[(m0+i)*lda/4:(m0+i)*lda/4+K])
		}
	}
	op.nNB = (N + nnNB - 1) / nnNB
	// Split M only when the column blocks alone cannot keep every worker
	// busy with a few units each (dynamic hand-out needs slack when a
	// core is shared); every extra split packs the same block of b again.
	op.nMB = 1
	if want := 4 * nt; op.nNB < want && M > 8*mr {
		op.nMB = min((want+op.nNB-1)/op.nNB, M/(4*mr))
	}
	op.mRows = ((M+op.nMB-1)/op.nMB + mr - 1) / mr * mr
	op.nMB = (M + op.mRows - 1) / op.mRows
	s.locals(nt, nnKC*nnNB+nnKC*mr+mr*nr)
	parallelDynamic(nt, op.nMB*op.nNB, 1, op)
	scratchPool.Put(s)
	*op = nnOp{}
	nnOpPool.Put(op)
}

// Blocking of gemmNN: a unit's packed k-block of b, nnKC × nnNB floats
// (128 KiB), sits in L2 while the kernel streams its panels (nnKC × nr,
// 16 KiB on AVX2) past an A strip of mr × nnKC floats held in L1.
const (
	nnKC = 256
	nnNB = 128 // a multiple of every kernel's nr (32, 16, 8)
)

type nnOp struct {
	k        *kernels
	c, a, b  []float32
	lda      int
	aCols    bool
	M, N, K  int
	nMB, nNB int
	mRows    int // rows of c per unit, a multiple of mr
	s        *scratch
}

var nnOpPool = sync.Pool{New: func() any { return new(nnOp) }}

func (o *nnOp) Run(w, lo, hi int) {
	for u := lo; u < hi; u++ {
		o.unit(o.s.local[w], u/o.nNB, u%o.nNB)
	}
}

func (o *nnOp) unit(local []float32, mb, nb int) {
	k, M, N, K := o.k, o.M, o.N, o.K
	mr, nr := k.mr, k.nr
	bp := local[:nnKC*nnNB]
	ap := local[nnKC*nnNB : nnKC*nnNB+nnKC*mr]
	tile := local[nnKC*nnNB+nnKC*mr:]
	m0, m1 := mb*o.mRows, min(M, mb*o.mRows+o.mRows)
	n0, n1 := nb*nnNB, min(N, nb*nnNB+nnNB)
	np := (n1 - n0 + nr - 1) / nr
	mFull := M - M%mr
	strips := (m1 - m0 + mr - 1) / mr
	for kc := 0; kc < K; kc += nnKC {
		kl := min(nnKC, K-kc)
		packRows(k, bp, o.b, N, kc, kl, n0, n1)
		// The next k-block of b is fetched into L2 a few rows per strip,
		// so the next pack reads it from there instead of from memory.
		next, nl := kc+nnKC, min(nnKC, K-kc-nnKC)
		per := (nl + strips - 1) / max(strips, 1)
		for i := m0; i < m1; i += mr {
			if k.prefetch != nil && nl > 0 {
				r0 := (i - m0) / mr * per
				if r0 < nl {
					k.prefetch(&o.b[(next+r0)*N+n0], N*4, min(per, nl-r0), (n1-n0)*4)
				}
			}
			var a *float32
			lda := o.lda
			gemm := k.gemmR
			switch {
			case o.aCols:
				packCols(ap, o.a, lda/4, kc, kl, i, min(i+mr, M), mr)
				a, lda, gemm = &ap[0], mr*4, k.gemmP
			case i < mFull:
				a = &o.a[i*lda/4+kc]
			default:
				a, lda = &o.s.padA[kc], K*4
			}
			for p := 0; p < np; p++ {
				j := n0 + p*nr
				b := &bp[p*kl*nr]
				if i+mr <= M && j+nr <= N {
					gemm(kl, a, lda, b, nr*4, &o.c[i*N+j], N*4, 1)
					continue
				}
				gemm(kl, a, lda, b, nr*4, &tile[0], nr*4, 0)
				for ii := i; ii < min(i+mr, M); ii++ {
					dst := o.c[ii*N+j : ii*N+min(j+nr, N)]
					src := tile[(ii-i)*nr:]
					for jj := range dst {
						dst[jj] += src[jj]
					}
				}
			}
		}
	}
}

// packRows copies rows [k0, k0+kl) × columns [n0, n1) of b (row-major, N
// columns) into nr-wide panels: dst[p*kl*nr + k*nr + j] = b[(k0+k)*N + n0 +
// p*nr + j], zero past n1.
func packRows(k *kernels, dst, b []float32, N, k0, kl, n0, n1 int) {
	nr := k.nr
	full := (n1 - n0) / nr
	if full > 0 {
		_ = dst[full*kl*nr-1]
		_ = b[(k0+kl-1)*N+n0+full*nr-1]
		if k.packRows != nil {
			k.packRows(&dst[0], &b[k0*N+n0], N*4, kl, full)
		} else {
			packRowsGo(dst, b[k0*N+n0:], N, kl, full, nr)
		}
	}
	if n0+full*nr == n1 {
		return
	}
	for kk := 0; kk < kl; kk++ {
		d := dst[full*kl*nr+kk*nr : full*kl*nr+kk*nr+nr]
		clear(d[copy(d, b[(k0+kk)*N+n0+full*nr:(k0+kk)*N+n1]):])
	}
}

// packRowsGo is packRows for np whole panels, src at the block's corner.
func packRowsGo(dst, src []float32, N, kl, np, nr int) {
	for k := 0; k < kl; k++ {
		row := src[k*N : k*N+np*nr]
		for p := 0; p < np; p++ {
			copy(dst[p*kl*nr+k*nr:p*kl*nr+k*nr+nr], row[p*nr:p*nr+nr])
		}
	}
}

// packCols gathers A(i,k) = a[k*lda + i] for rows [i0, i1) and k in
// [k0, k0+kl) into dst[k*mr + i-i0], zero for rows past i1: a columns
// operand read at a stride of lda floats per k becomes one contiguous strip.
func packCols(dst, a []float32, lda, k0, kl, i0, i1, mr int) {
	n := i1 - i0
	// Whole strips move as fixed-size arrays: a register move or two
	// each, where copy would call memmove for a few bytes per k.
	switch {
	case n == 6 && mr == 6:
		for k := 0; k < kl; k++ {
			*(*[6]float32)(dst[k*6:]) = *(*[6]float32)(a[(k0+k)*lda+i0:])
		}
		return
	case n == 12 && mr == 12:
		for k := 0; k < kl; k++ {
			*(*[12]float32)(dst[k*12:]) = *(*[12]float32)(a[(k0+k)*lda+i0:])
		}
		return
	case n == 8 && mr == 8:
		for k := 0; k < kl; k++ {
			*(*[8]float32)(dst[k*8:]) = *(*[8]float32)(a[(k0+k)*lda+i0:])
		}
		return
	case n == 4 && mr == 4:
		for k := 0; k < kl; k++ {
			*(*[4]float32)(dst[k*4:]) = *(*[4]float32)(a[(k0+k)*lda+i0:])
		}
		return
	}
	for k := 0; k < kl; k++ {
		d := dst[k*mr : k*mr+mr]
		copy(d, a[(k0+k)*lda+i0:(k0+k)*lda+i1])
		clear(d[n:])
	}
}
