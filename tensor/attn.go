package tensor

import (
	"math"
	"sync"
)

// Long-context attention: a tiled prefill path and a grouped, split-K decode
// path. Both read each cached key and value once for all query heads of its
// KV group (Qwen2-1.5B has 6 query heads per KV head), and both keep the
// keys and values they work on in the first cache levels instead of
// streaming the whole cache once per (token, head) as attend does.

// A multi-token AttentionKV call takes the tiled path when it has at
// least attnTiledTokens queries (a 128-token chunk measured 1.2–4× faster
// tiled even at 128 keys) or its rows reach attnTiledMin keys; a few
// queries over a short cache keep the two-pass rows, which pad nothing.
// attnSplitMin is the fewest keys a decode split works on: below it, the
// merge and the pool hand-off cost more than the split saves.
var (
	attnTiledMin    = 384
	attnTiledTokens = 16
	attnSplitMin    = 256
)

// attnKeyTile is the key tile of the prefill path, rounded up to the gemm
// register tile's rows: 64 keys × 128 dimensions are 32 KiB of keys and as
// much of values, which stay in L1/L2 while every query row of the tile
// uses them.
const attnKeyTile = 64

// attentionTiled is AttentionKV for T query tokens as tiles of query rows
// (Bq tokens × all G heads of one KV group, rows ordered token-major) times
// tiles of keys, with an online softmax carried across key tiles:
//
//	S = Q·Kᵀ·scale (one gemm per tile: keys as A rows, the transposed query
//	tile as B), masked where a key lies after its query,
//	m' = max(m, rowmax S); P = exp(S - m'); l = l·e^(m-m') + rowsum P,
//	O = O·e^(m-m') + P·V (a second gemm: P as A columns, values as B),
//	out = O / l.
//
// Key tiles that lie wholly after a query tile's last token are never
// visited. The work units are (KV group, query tile) pairs.
// tiledOK reports whether the tiled path takes a shape: whole KV groups,
// and heads of whole gemm columns (every model we know has 64 or 128).
func tiledOK(NH, NKV, HD int) bool { return NH%NKV == 0 && HD%impl.nr == 0 }

func attentionTiled(out, q, k, v []float32, T, pos, NH, NKV, HD int) {
	attentionTiledSrc(out, q, kvSrc{k: k, v: v}, T, pos, NH, NKV, HD)
}

// kvSrc is the cache the tiled and decode paths read: float32 rows, or
// half-precision or q8_0 rows that each unit widens one tile at a time
// into float32 scratch, once for all query heads of the group.
type kvSrc struct {
	k, v     []float32
	k16, v16 []uint16
	k8, v8   []int8    // q8_0: values in blocks of 32,
	ks8, vs8 []float32 // each with its scale
}

// narrow reports whether the cache needs widening (is not float32).
func (s *kvSrc) narrow() bool { return s.k16 != nil || s.k8 != nil }

// widenK sets dst (n, HD) to key rows j0..j0+n-1 (row stride kvd, HD
// values from off); widenV likewise for values.
func (s *kvSrc) widenK(dst []float32, j0, n, kvd, off, HD int) {
	widenRows(dst, s.k16, s.k8, s.ks8, j0, n, kvd, off, HD)
}

func (s *kvSrc) widenV(dst []float32, j0, n, kvd, off, HD int) {
	widenRows(dst, s.v16, s.v8, s.vs8, j0, n, kvd, off, HD)
}

func widenRows(dst []float32, h []uint16, q []int8, qs []float32, j0, n, kvd, off, HD int) {
	if h != nil && n > 0 && HD%8 == 0 && attnF16C() {
		o := j0*kvd + off
		_ = h[o+(n-1)*kvd+HD-1] // the last row is in range
		_ = dst[n*HD-1]
		f16RowsToF32F16C(&dst[0], &h[o], n, HD, kvd)
		return
	}
	for r := 0; r < n; r++ {
		o := (j0+r)*kvd + off
		if h != nil {
			f16ToF32(dst[r*HD:r*HD+HD], h[o:o+HD])
		} else {
			q8ToF32(dst[r*HD:r*HD+HD], q[o:o+HD], qs[o/q8Block:(o+HD)/q8Block])
		}
	}
}

func attentionTiledSrc(out, q []float32, src kvSrc, T, pos, NH, NKV, HD int) {
	kn := impl
	G := NH / NKV
	l := lcm(kn.mr, kn.nr)
	rp := (max(G, 64) + l - 1) / l * l // padded rows per query tile
	bq := max(rp/G, 1)                 // query tokens per tile
	rp = (bq*G + l - 1) / l * l
	bk := (attnKeyTile + kn.mr - 1) / kn.mr * kn.mr
	nqt := (T + bq - 1) / bq
	a := tiledPool.Get().(*tiledOp)
	a.out, a.q, a.src = out, q, src
	a.T, a.pos, a.NH, a.NKV, a.HD, a.G, a.bq, a.rp, a.bk, a.nqt = T, pos, NH, NKV, HD, G, bq, rp, bk, nqt
	a.kn = kn
	a.scale = float32(1 / math.Sqrt(float64(HD)))
	n := NKV * nqt
	nw := max(min(Threads(), n), 1)
	for len(a.ws) < nw {
		a.ws = append(a.ws, &tiledScratch{})
	}
	for _, w := range a.ws[:nw] {
		w.grow(rp, bk, HD, kn.mr)
	}
	if nw == 1 {
		a.Run(0, 0, n)
	} else {
		ParallelSplit(n, a)
	}
	a.out, a.q, a.src, a.kn = nil, nil, kvSrc{}, nil
	tiledPool.Put(a)
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

type tiledOp struct {
	out, q                                  []float32
	src                                     kvSrc
	T, pos, NH, NKV, HD, G, bq, rp, bk, nqt int
	scale                                   float32
	kn                                      *kernels
	ws                                      []*tiledScratch // per worker slot, kept across calls
}

// tiledScratch is one worker's tile buffers.
type tiledScratch struct {
	qt   []float32 // (HD, rp) transposed, scaled query tile
	st   []float32 // (bk, rp) scores, then probabilities
	o    []float32 // (rp, HD) unnormalized output
	m, l []float32 // (rp) running max and sum
	c    []float32 // (rp) rescale factors of one key tile
	kpad []float32 // (mr, HD) the last key rows of a ragged tile, zero-padded
	kbuf []float32 // (bk, HD) a widened half-precision key tile, zero-padded
	vbuf []float32 // (bk, HD) a widened value tile
	qpos []int     // (rp) position of each row's query
}

func (s *tiledScratch) grow(rp, bk, HD, mr int) {
	if len(s.qt) < HD*rp {
		s.qt = make([]float32, HD*rp)
		s.o = make([]float32, rp*HD)
	}
	if len(s.st) < bk*rp {
		s.st = make([]float32, bk*rp)
	}
	if len(s.m) < rp {
		s.m, s.l, s.c = make([]float32, rp), make([]float32, rp), make([]float32, rp)
		s.qpos = make([]int, rp)
	}
	if len(s.kpad) < mr*HD {
		s.kpad = make([]float32, mr*HD)
	}
	if len(s.kbuf) < bk*HD {
		s.kbuf, s.vbuf = make([]float32, bk*HD), make([]float32, bk*HD)
	}
}

var tiledPool = sync.Pool{New: func() any { return new(tiledOp) }}

func (a *tiledOp) Run(w, lo, hi int) {
	for u := lo; u < hi; u++ {
		a.unit(a.ws[w], u/a.nqt, u%a.nqt)
	}
}

func (a *tiledOp) unit(s *tiledScratch, g, qt int) {
	kn, HD, G, rp, bk := a.kn, a.HD, a.G, a.rp, a.bk
	qd, kvd := a.NH*HD, a.NKV*HD
	t0 := qt * a.bq
	t1 := min(t0+a.bq, a.T)
	R := (t1 - t0) * G
	QT, ST, O := s.qt[:HD*rp], s.st[:bk*rp], s.o[:rp*HD]
	m, l, c, qpos := s.m[:rp], s.l[:rp], s.c[:rp], s.qpos[:rp]
	clear(QT)
	for r := 0; r < R; r++ {
		t, h := t0+r/G, g*G+r%G
		qv := a.q[t*qd+h*HD : t*qd+h*HD+HD]
		for p, x := range qv {
			QT[p*rp+r] = x * a.scale
		}
		qpos[r] = a.pos + t
	}
	for r := R; r < rp; r++ {
		qpos[r] = a.pos + t1 - 1
	}
	for r := range m {
		m[r], l[r] = float32(math.Inf(-1)), 0
	}
	clear(O)
	koff := g * HD
	L := a.pos + t1 // keys the tile's last query sees
	firstMasked := a.pos + t0 + 1
	for j0 := 0; j0 < L; j0 += bk {
		nk := min(bk, L-j0)
		// S (nk, rp) = K[j0:j0+nk] · QT
		full := nk - nk%kn.mr
		var vs []float32 // the tile's values, row stride ldv floats
		ldv := kvd
		if a.src.narrow() {
			nkp := (nk + kn.mr - 1) / kn.mr * kn.mr
			kb := s.kbuf[:nkp*HD]
			a.src.widenK(kb, j0, nk, kvd, koff, HD)
			clear(kb[nk*HD:])
			for i := 0; i < nk; i += kn.mr {
				for j := 0; j < rp; j += kn.nr {
					kn.gemmR(HD, &kb[i*HD], HD*4, &QT[j], rp*4, &ST[i*rp+j], rp*4, 0)
				}
			}
			a.src.widenV(s.vbuf, j0, nk, kvd, koff, HD)
			vs, ldv = s.vbuf, HD
		} else {
			vs = a.src.v[j0*kvd+koff:]
		}
		for i := 0; !a.src.narrow() && i < nk; i += kn.mr {
			ka, lda := &a.src.k[(j0+i)*kvd+koff], kvd*4
			if i >= full {
				rows := nk - i
				clear(s.kpad)
				for r := 0; r < rows; r++ {
					copy(s.kpad[r*HD:r*HD+HD], a.src.k[(j0+i+r)*kvd+koff:(j0+i+r)*kvd+koff+HD])
				}
				ka, lda = &s.kpad[0], HD*4
			}
			for j := 0; j < rp; j += kn.nr {
				kn.gemmR(HD, ka, lda, &QT[j], rp*4, &ST[i*rp+j], rp*4, 0)
			}
		}
		// Keys after a row's query take -Inf: only tiles reaching past
		// the first query of this query tile have any.
		if j0+nk > firstMasked {
			for j := max(j0, firstMasked) - j0; j < nk; j++ {
				row := ST[j*rp : j*rp+rp]
				kj := j0 + j
				for r := range row {
					if kj > qpos[r] {
						row[r] = float32(math.Inf(-1))
					}
				}
			}
		}
		copy(c, m)
		for j := 0; j < nk; j++ {
			for r, x := range ST[j*rp : j*rp+rp] {
				m[r] = max(m[r], x)
			}
		}
		rescale := false
		for r := range c {
			if c[r] != m[r] {
				c[r] = expNonPos(c[r] - m[r])
				l[r] *= c[r]
				rescale = true
			} else {
				c[r] = 1
			}
		}
		for j := 0; j < nk; j++ {
			expDiffAcc(ST[j*rp:j*rp+rp], m, l)
		}
		if rescale && j0 > 0 {
			for r := 0; r < rp; r++ {
				if c[r] != 1 {
					or := O[r*HD : r*HD+HD]
					for i := range or {
						or[i] *= c[r]
					}
				}
			}
		}
		// O (rp, HD) += Pᵀ... P is stored (nk, rp): A columns for gemmP.
		for i := 0; i < rp; i += kn.mr {
			for j := 0; j < HD; j += kn.nr {
				kn.gemmP(nk, &ST[i], rp*4, &vs[j], ldv*4, &O[i*HD+j], HD*4, 1)
			}
		}
	}
	for r := 0; r < R; r++ {
		t, h := t0+r/G, g*G+r%G
		o := a.out[t*qd+h*HD : t*qd+h*HD+HD]
		inv := 1 / l[r]
		for i, x := range O[r*HD : r*HD+HD] {
			o[i] = x * inv
		}
	}
}

// attentionDecode is AttentionKV for one query token: each unit is one KV
// group over one contiguous range of keys (a split), computing the G heads
// of the group together in key blocks that stay in L1 between heads. A
// unit leaves its unnormalized output, max and sum; the splits of a group
// are then merged: M = max m_s, out = Σ o_s·e^(m_s-M) / Σ l_s·e^(m_s-M).
func attentionDecode(out, q, k, v []float32, pos, NH, NKV, HD int) {
	attentionDecodeSrc(out, q, kvSrc{k: k, v: v}, pos, NH, NKV, HD)
}

func attentionDecodeSrc(out, q []float32, src kvSrc, pos, NH, NKV, HD int) {
	L := pos + 1
	G := NH / NKV
	nt := max(Threads(), 1)
	splits := 1
	if nt > 1 {
		// Enough units for every worker, each at least attnSplitMin keys.
		splits = min((2*nt+NKV-1)/NKV, max(L/attnSplitMin, 1))
	}
	a := decodePool.Get().(*decodeOp)
	a.out, a.q, a.src = out, q, src
	a.L, a.NH, a.NKV, a.HD, a.G, a.splits = L, NH, NKV, HD, G, splits
	a.scale = float32(1 / math.Sqrt(float64(HD)))
	n := NKV * splits
	per := (L + splits - 1) / splits
	a.per = per
	if need := n * G * HD; len(a.po) < need {
		a.po = make([]float32, need)
	}
	if need := n * G; len(a.pm) < need {
		a.pm, a.pl = make([]float32, need), make([]float32, need)
	}
	nw := max(min(nt, n), 1)
	for len(a.sc) < nw {
		a.sc = append(a.sc, nil)
		a.cb = append(a.cb, nil)
	}
	for w := range a.sc[:nw] {
		if len(a.sc[w]) < G*per {
			a.sc[w] = make([]float32, G*max(per, 2*len(a.sc[w])/G, 256))
		}
		if src.narrow() && len(a.cb[w]) < attnDecodeBlock*HD {
			a.cb[w] = make([]float32, attnDecodeBlock*HD)
		}
	}
	if nw == 1 {
		a.Run(0, 0, n)
	} else {
		ParallelSplit(n, a)
	}
	if splits == 1 {
		for u := 0; u < n; u++ {
			for hh := 0; hh < G; hh++ {
				h := u*G + hh
				o := out[h*HD : h*HD+HD]
				inv := 1 / a.pl[u*G+hh]
				for i, x := range a.po[(u*G+hh)*HD : (u*G+hh)*HD+HD] {
					o[i] = x * inv
				}
			}
		}
	} else {
		for g := 0; g < NKV; g++ {
			for hh := 0; hh < G; hh++ {
				h := g*G + hh
				M := float32(math.Inf(-1))
				for sp := 0; sp < splits; sp++ {
					M = max(M, a.pm[(g*splits+sp)*G+hh])
				}
				o := out[h*HD : h*HD+HD]
				clear(o)
				var sum float32
				for sp := 0; sp < splits; sp++ {
					i := (g*splits+sp)*G + hh
					if a.pl[i] == 0 {
						continue // an empty split
					}
					f := expNonPos(a.pm[i] - M)
					sum += a.pl[i] * f
					Axpy(o, a.po[i*HD:i*HD+HD], f)
				}
				inv := 1 / sum
				for i := range o {
					o[i] *= inv
				}
			}
		}
	}
	a.out, a.q, a.src = nil, nil, kvSrc{}
	decodePool.Put(a)
}

type decodeOp struct {
	out, q                         []float32
	src                            kvSrc
	L, NH, NKV, HD, G, splits, per int
	scale                          float32
	po, pm, pl                     []float32   // per unit and head: output (HD), max, sum
	sc                             [][]float32 // per worker slot: G score rows
	cb                             [][]float32 // per worker slot: a widened key or value block
}

var decodePool = sync.Pool{New: func() any { return new(decodeOp) }}

// attnDecodeBlock is how many keys a decode unit scores (or values it
// sums) for all heads before moving on: 32 rows of 128 floats are 16 KiB.
const attnDecodeBlock = 32

func (a *decodeOp) Run(w, lo, hi int) {
	HD, G, kvd := a.HD, a.G, a.NKV*a.HD
	for u := lo; u < hi; u++ {
		g, sp := u/a.splits, u%a.splits
		j0 := min(sp*a.per, a.L)
		j1 := min(j0+a.per, a.L)
		n := j1 - j0
		base := u * G
		if n == 0 {
			for hh := 0; hh < G; hh++ {
				a.pm[base+hh], a.pl[base+hh] = float32(math.Inf(-1)), 0
				clear(a.po[(base+hh)*HD : (base+hh)*HD+HD])
			}
			continue
		}
		koff := g * HD
		sc := a.sc[w][:G*n]
		simd := HD%impl.width == 0
		f16 := a.src.k16 != nil && f16DecodeOK(HD)
		if f16 {
			a.unitF16Scores(w, g, j0, n, sc)
		}
		for b0 := 0; b0 < n && !f16; b0 += attnDecodeBlock {
			b1 := min(b0+attnDecodeBlock, n)
			// ks holds the block's keys from key b0 on, row stride kst.
			ks, kst := a.src.k, kvd
			if a.src.narrow() {
				ks, kst = a.cb[w], HD
				a.src.widenK(ks, j0+b0, b1-b0, kvd, koff, HD)
			} else {
				ks = ks[(j0+b0)*kvd+koff:]
			}
			for hh := 0; hh < G; hh++ {
				h := g*G + hh
				qv := a.q[h*HD : h*HD+HD]
				s := sc[hh*n : hh*n+n]
				j := b0
				if simd {
					for ; j+4 <= b1; j += 4 {
						r0, r1, r2, r3 := impl.dot4(&qv[0], &ks[(j-b0)*kst], 4*kst, HD)
						s[j], s[j+1], s[j+2], s[j+3] = r0*a.scale, r1*a.scale, r2*a.scale, r3*a.scale
					}
				}
				for ; j < b1; j++ {
					s[j] = Dot(qv, ks[(j-b0)*kst:(j-b0)*kst+HD]) * a.scale
				}
			}
		}
		for hh := 0; hh < G; hh++ {
			s := sc[hh*n : hh*n+n]
			mx := s[0]
			for _, x := range s[1:] {
				if x > mx { // not max(): its NaN and ±0 handling costs 3× here
					mx = x
				}
			}
			a.pm[base+hh] = mx
			a.pl[base+hh] = expSubSum(s, mx)
			clear(a.po[(base+hh)*HD : (base+hh)*HD+HD])
		}
		if f16 {
			a.unitF16Values(g, j0, n, base, sc)
			continue
		}
		for b0 := 0; b0 < n; b0 += attnDecodeBlock {
			b1 := min(b0+attnDecodeBlock, n)
			vs, vst := a.src.v, kvd
			if a.src.narrow() {
				vs, vst = a.cb[w], HD
				a.src.widenV(vs, j0+b0, b1-b0, kvd, koff, HD)
			} else {
				vs = vs[(j0+b0)*kvd+koff:]
			}
			for hh := 0; hh < G; hh++ {
				s := sc[hh*n : hh*n+n]
				o := a.po[(base+hh)*HD : (base+hh)*HD+HD]
				j := b0
				if simd {
					for ; j+4 <= b1; j += 4 {
						impl.axpy4(&o[0], &vs[(j-b0)*vst], 4*vst, &s[j], HD)
					}
				}
				for ; j < b1; j++ {
					Axpy(o, vs[(j-b0)*vst:(j-b0)*vst+HD], s[j])
				}
			}
		}
	}
}

// expSubSum sets s[i] = e^(s[i]-m) for s[i] ≤ m and returns their sum.
func expSubSum(s []float32, m float32) float32 {
	var sum float32
	i := 0
	if attnSIMD() && len(s) >= 8 {
		i = len(s) &^ 7
		sum = expSubSumAVX2(&s[0], m, i)
	}
	for ; i < len(s); i++ {
		e := expNonPos(s[i] - m)
		s[i] = e
		sum += e
	}
	return sum
}

// expDiffAcc sets s[i] = e^(s[i]-m[i]) for s[i] ≤ m[i] and adds it to l[i];
// len(s) a multiple of 8 takes the vector kernel.
func expDiffAcc(s, m, l []float32) {
	m, l = m[:len(s)], l[:len(s)]
	i := 0
	if attnSIMD() && len(s) >= 8 {
		i = len(s) &^ 7
		expDiffAccAVX2(&s[0], &m[0], &l[0], i)
	}
	for ; i < len(s); i++ {
		e := expNonPos(s[i] - m[i])
		s[i] = e
		l[i] += e
	}
}
