package tensor

import (
	"math"
	"sync"
)

// AttentionKV is causal grouped-query attention for T new query tokens at
// positions pos..pos+T-1 over a key/value cache holding positions
// 0..pos+T-1:
//
//	out (T, NH*HD), q (T, NH*HD), k, v (≥pos+T, NKV*HD)
//
// Query head h reads KV head h/(NH/NKV). PyTorch (HF eager attention, with
// repeat_kv expanding the KV heads):
//
//	att = (q @ k.transpose(-2, -1)) / sqrt(HD) + causal_mask
//	out = softmax(att, dim=-1) @ v
//
// Each (token, head) pair is one row of scores in a per-worker buffer kept
// across calls (grown by doubling, so decode allocates nothing per token),
// softmaxed in two passes (see attend). Work is split over the pairs,
// strided so that the long rows of late tokens are shared evenly among
// workers.
func AttentionKV(out, q, k, v []float32, T, pos, NH, NKV, HD int) {
	qd, kvd := NH*HD, NKV*HD
	_ = out[T*qd-1]
	_ = q[T*qd-1]
	_ = k[(pos+T)*kvd-1]
	_ = v[(pos+T)*kvd-1]
	// Long rows and decode take the paths of attn.go, which read each
	// key and value once per KV group; short prefill rows stay here.
	if NH%NKV == 0 && T == 1 {
		attentionDecode(out, q, k, v, pos, NH, NKV, HD)
		return
	}
	if tiledOK(NH, NKV, HD) && (pos+T >= attnTiledMin || T >= attnTiledTokens) {
		attentionTiled(out, q, k, v, T, pos, NH, NKV, HD)
		return
	}
	attnRows(out, q, k, v, T, pos, NH, NKV, HD)
}

// attnRows is AttentionKV one (token, head) row at a time.
func attnRows(out, q, k, v []float32, T, pos, NH, NKV, HD int) {
	qd, kvd := NH*HD, NKV*HD
	a := attnPool.Get().(*attnOp)
	scores := a.scores
	*a = attnOp{out: out, q: q, k: k, v: v, pos: pos, NH: NH, HD: HD, qd: qd, kvd: kvd,
		group: NH / NKV, scale: float32(1 / math.Sqrt(float64(HD))), n: T * NH}
	a.workers = min(Threads(), a.n)
	// One score row per worker, as long as the longest query's keys.
	for len(scores) < max(a.workers, 1) {
		scores = append(scores, nil)
	}
	for w := range scores {
		if cap(scores[w]) < pos+T { // grown by doubling: decode adds one key per call
			scores[w] = make([]float32, max(pos+T, 2*cap(scores[w]), 1024))
		}
	}
	a.scores = scores
	if a.workers <= 1 {
		a.workers = 1
		a.Run(0, 0, 1)
	} else {
		ParallelSplit(a.workers, a)
	}
	*a = attnOp{scores: scores}
	attnPool.Put(a)
}

// attnOp is one AttentionKV call as a pool Task (no closure, so decode
// allocates nothing per token). Worker slot w takes (token, head) pairs
// w, w+workers, ...
type attnOp struct {
	out, q, k, v                []float32
	pos, NH, HD, qd, kvd, group int
	n, workers                  int
	scale                       float32
	scores                      [][]float32 // per worker slot, kept across calls
}

var attnPool = sync.Pool{New: func() any { return new(attnOp) }}

func (a *attnOp) Run(_, lo, hi int) {
	for w := lo; w < hi; w++ {
		for i := w; i < a.n; i += a.workers {
			t, h := i/a.NH, i%a.NH
			qv := a.q[t*a.qd+h*a.HD : t*a.qd+h*a.HD+a.HD]
			o := a.out[t*a.qd+h*a.HD : t*a.qd+h*a.HD+a.HD]
			koff := (h / a.group) * a.HD
			attend(o, qv, a.k, a.v, a.pos+t+1, a.kvd, koff, a.HD, a.scale, a.scores[w])
		}
	}
}

// attend sets o = softmax(scale * q·k_j for j < L) weighted sum of v_j,
// where k_j = k[j*stride+off:][:HD] and likewise v_j, in two passes over
// a score row s (len ≥ L): the scores four keys per kernel call (dot4,
// the keys being rows of the cache at a fixed stride), their exact max,
// the exponentials, then the weighted sum of values, four value rows per
// axpy4 call. It replaced a one-pass
// online softmax, which rescaled the output whenever the max grew and made
// a kernel call per key: prefill attention over a 512-token prompt took a
// third of the time, now a fifth.
func attend(o, q, k, v []float32, L, stride, off, HD int, scale float32, s []float32) {
	s = s[:L]
	_ = k[(L-1)*stride+off+HD-1]
	_ = v[(L-1)*stride+off+HD-1]
	j := 0
	if w := impl.width; HD%w == 0 {
		for ; j+4 <= L; j += 4 {
			r0, r1, r2, r3 := impl.dot4(&q[0], &k[j*stride+off], 4*stride, HD)
			s[j], s[j+1], s[j+2], s[j+3] = r0*scale, r1*scale, r2*scale, r3*scale
		}
	}
	for ; j < L; j++ {
		s[j] = Dot(q, k[j*stride+off:j*stride+off+HD]) * scale
	}
	m := s[0]
	for _, x := range s[1:] {
		m = max(m, x)
	}
	var sum float32
	for j, x := range s {
		e := expNonPos(x - m)
		s[j] = e
		sum += e
	}
	clear(o)
	j = 0
	if HD%impl.width == 0 {
		for ; j+4 <= L; j += 4 {
			impl.axpy4(&o[0], &v[j*stride+off], 4*stride, &s[j], HD)
		}
	}
	for ; j < L; j++ {
		Axpy(o, v[j*stride+off:j*stride+off+HD], s[j])
	}
	inv := 1 / sum
	for i := range o {
		o[i] *= inv
	}
}

// expNonPos returns e^x for x ≤ 0 (or -Inf) within 2 ulp of float32,
// about three times faster than math.Exp on float64: the softmax takes
// one per key per head, a large share of decode's attention time.
// Range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two parts
// so r is exact), then a degree-6 minimax polynomial for e^r (Cephes'
// expf coefficients), scaled by 2^n through the exponent bits.
func expNonPos(x float32) float32 {
	if !(x >= -87.33) { // below float32's normal range (flushed to 0), -Inf, or NaN
		if x != x {
			return x
		}
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693359375
		ln2Lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2Hi - n*ln2Lo
	z := r * r
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	y := p*z + r + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}
