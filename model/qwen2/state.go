package qwen2

import (
	"errors"
	"fmt"

	"ragtune/tensor"
)

// ErrContextLength is returned (wrapped) when a Forward call would run past
// the State's maximum sequence length.
var ErrContextLength = errors.New("context length exceeded")

// State is one sequence being decoded: its KV cache, its RoPE tables and,
// once Forward first runs, the activation buffers of one prefill chunk. A
// State is not safe for concurrent use; use one per sequence. A State that
// only ever runs inside a Batch never allocates activation buffers of its
// own: the Batch's are shared by all its sequences.
type State struct {
	m      *Model
	maxSeq int
	chunk  int
	pos    int

	cos, sin []float32       // (maxSeq, HD/2) RoPE tables
	kv       *tensor.KVCache // every layer's keys (rotated) and values, up to maxSeq
	a        *acts           // Forward's activation buffers, allocated on first use
	seg      [1]segment      // Forward's one segment, kept here so decode allocates nothing
	logits   []float32       // (V) last token's logits
}

// acts are the activation buffers of one pass over up to n rows (tokens of
// one or several sequences).
type acts struct {
	n     int
	k, v  []float32 // (n, NKV*HD) the rows' new keys and values
	x     []float32 // (n, C) residual stream
	xb    []float32 // (n, C) normalized input / projection output
	q     []float32 // (n, NH*HD)
	att   []float32 // (n, NH*HD) attention output
	hb    []float32 // (n, F) gate, then silu(gate)*up
	hb2   []float32 // (n, F) up, unfused layers only
	fused []float32 // (n, max(NH*HD+2*NKV*HD, 2F)) fused q/k/v or gate/up outputs
	act   swigluOp  // the SwiGLU task, kept here so decode allocates nothing
}

func (m *Model) newActs(n int) *acts {
	C, QD, KVD := m.dim, m.nHead*m.headDim, m.nKV*m.headDim
	a := &acts{
		n: n,
		k: make([]float32, n*KVD), v: make([]float32, n*KVD),
		x: make([]float32, n*C), xb: make([]float32, n*C),
		q: make([]float32, n*QD), att: make([]float32, n*QD),
		hb: make([]float32, n*m.ffn),
	}
	for _, ly := range m.layers {
		if ly.wgate != nil && a.hb2 == nil {
			a.hb2 = make([]float32, n*m.ffn)
		}
		if (ly.wqkv != nil || ly.wgu != nil) && a.fused == nil {
			a.fused = make([]float32, n*max(QD+2*KVD, 2*m.ffn))
		}
	}
	return a
}

// NewState allocates a State for sequences of up to maxSeq tokens
// (clamped to [1, MaxContext]) with a float32 KV cache, whose attention
// is exact. See NewStateKV.
func (m *Model) NewState(maxSeq int) *State { return m.NewStateKV(maxSeq, tensor.KVF32) }

// NewStateKV is NewState with the KV cache's element type. The cache takes
// KVBytesPerToken(t) bytes per token seen, allocated as the sequence grows
// (by doubling, up to maxSeq), so a long maximum costs nothing until used.
// A q8_0 cache needs a head size that is a multiple of 32; other models
// get f16.
func (m *Model) NewStateKV(maxSeq int, t tensor.KVType) *State {
	if t == tensor.KVQ8 && !tensor.KVQ8OK(m.headDim) {
		t = tensor.KVF16
	}
	if mc := m.MaxContext(); mc > 0 && maxSeq > mc {
		maxSeq = mc
	}
	maxSeq = max(maxSeq, 1)
	chunk := min(m.chunk, maxSeq)
	s := &State{
		m: m, maxSeq: maxSeq, chunk: chunk,
		cos: make([]float32, maxSeq*m.headDim/2), sin: make([]float32, maxSeq*m.headDim/2),
		kv:     tensor.NewKVCache(t, len(m.layers), m.nKV*m.headDim, maxSeq),
		logits: make([]float32, m.vocab),
	}
	m.cfg.RoPETables(s.cos, s.sin, 0, maxSeq)
	return s
}

// KVBytesPerToken is the KV cache memory one token of context takes with
// cache type t: 2 (keys, values) × layers × one row of kvHeads × headDim
// values in t (4, 2 or 1.125 bytes a value).
func (m *Model) KVBytesPerToken(t tensor.KVType) int {
	return 2 * len(m.layers) * t.RowBytes(m.nKV*m.headDim)
}

// KVCacheBytes is the memory the KV cache holds now.
func (s *State) KVCacheBytes() int64 { return s.kv.Bytes() }

// Reserve allocates the KV cache for the first n positions (at most the
// State's maximum) now rather than as the sequence grows: a caller that
// knows the length avoids the copies of the doublings.
func (s *State) Reserve(n int) { s.kv.Reserve(n) }

// KVType is the KV cache's element type.
func (s *State) KVType() tensor.KVType { return s.kv.Type() }

// Pos is the number of tokens in the KV cache: the position the next token
// will take.
func (s *State) Pos() int { return s.pos }

// MaxSeq is the most tokens this State can hold.
func (s *State) MaxSeq() int { return s.maxSeq }

// Truncate drops cached tokens from position pos on, so the next Forward
// continues from there (reusing a shared prompt prefix). pos is clamped to
// [0, Pos()].
func (s *State) Truncate(pos int) {
	s.pos = min(max(pos, 0), s.pos)
}

// Forward runs tokens at positions Pos()..Pos()+len(tokens)-1, appends them
// to the KV cache and returns the logits (VocabSize) of the last token. The
// slice belongs to the State and is overwritten by the next call.
func (s *State) Forward(tokens []int) ([]float32, error) {
	if err := s.check(tokens); err != nil {
		return nil, err
	}
	for i := 0; i < len(tokens); i += s.chunk {
		s.step(tokens[i:min(i+s.chunk, len(tokens))])
	}
	s.head(s.logits, (len(tokens)-1)%s.chunk, 1) // the last token's row in the final chunk
	return s.logits, nil
}

// ForwardAll is Forward that fills logits (len(tokens), VocabSize) with
// every position's logits, for perplexity and evaluation.
func (s *State) ForwardAll(tokens []int, logits []float32) error {
	if err := s.check(tokens); err != nil {
		return err
	}
	V := s.m.vocab
	if len(logits) < len(tokens)*V {
		return fmt.Errorf("logits buffer holds %d values, need %d (%d tokens × vocabulary %d)", len(logits), len(tokens)*V, len(tokens), V)
	}
	for i := 0; i < len(tokens); i += s.chunk {
		n := min(s.chunk, len(tokens)-i)
		s.step(tokens[i : i+n])
		s.head(logits[i*V:(i+n)*V], 0, n)
	}
	return nil
}

func (s *State) check(tokens []int) error {
	if len(tokens) == 0 {
		return errors.New("forward: no tokens")
	}
	for i, id := range tokens {
		if id < 0 || id >= s.m.vocab {
			return fmt.Errorf("forward: token %d (index %d) is outside the vocabulary [0, %d); the tokenizer does not match the model", id, i, s.m.vocab)
		}
	}
	if s.pos+len(tokens) > s.maxSeq {
		return fmt.Errorf("%w: context length %d exceeded (%d tokens cached + %d new); shorten the prompt or allow a longer context", ErrContextLength, s.maxSeq, s.pos, len(tokens))
	}
	return nil
}

// head writes the logits of rows r0..r0+n-1 of the last chunk's residual
// stream into out (n, V).
func (s *State) head(out []float32, r0, n int) {
	m := s.m
	C := m.dim
	// x = self.norm(x); logits = self.lm_head(x)
	tensor.RMSNorm(s.a.xb[r0*C:(r0+n)*C], s.a.x[r0*C:(r0+n)*C], m.norm, n, C, m.eps)
	m.head.MatMul(out[:n*m.vocab], s.a.xb[r0*C:(r0+n)*C], n)
}

// step runs T ≤ chunk tokens through every layer at position s.pos,
// leaving the final residual stream in s.a.x.
func (s *State) step(tokens []int) {
	if s.a == nil {
		s.a = s.m.newActs(s.chunk)
	}
	s.seg[0] = segment{s: s, tokens: tokens}
	s.m.pass(s.a, s.seg[:], len(tokens))
	s.seg[0] = segment{}
}

// segment is one sequence's rows in a pass: tokens at positions
// s.pos.. in rows row..row+len(tokens)-1 of the activation buffers.
type segment struct {
	s      *State
	tokens []int
	row    int
}

// pass runs T rows, the segments' tokens stacked in order, through every
// layer, leaving the final residual stream in a.x. The projections see all
// T rows as one activation panel, so each weight matrix is read once per
// pass however many sequences share it; RoPE, the KV cache and attention
// run per segment at its sequence's own positions. Every other operation
// works row by row, and the int8 tile kernels quantize activations per
// token, so a sequence's rows come out the same whatever shares its pass.
func (m *Model) pass(a *acts, segs []segment, T int) {
	C, F, NH, NKV, HD := m.dim, m.ffn, m.nHead, m.nKV, m.headDim
	QD, KVD, half := NH*HD, NKV*HD, HD/2
	x, xb := a.x[:T*C], a.xb[:T*C]
	q, att := a.q[:T*QD], a.att[:T*QD]
	hb := a.hb[:T*F]
	k, v := a.k[:T*KVD], a.v[:T*KVD] // stored in the caches after RoPE

	// x = self.embed_tokens(tokens)
	for _, g := range segs {
		for t, id := range g.tokens {
			r := g.row + t
			m.embed.Row(x[r*C:r*C+C], id)
		}
	}
	for l := range m.layers {
		ly := &m.layers[l]

		// xb = self.input_layernorm(x)
		tensor.RMSNorm(xb, x, ly.attnNorm, T, C, m.eps)
		// q, k, v = self.q_proj(xb), self.k_proj(xb), self.v_proj(xb)
		if ly.wqkv != nil {
			W := QD + 2*KVD
			qkv := a.fused[:T*W]
			ly.wqkv.MatMul(qkv, xb, T)
			for t := 0; t < T; t++ {
				row := qkv[t*W : t*W+W]
				copy(q[t*QD:t*QD+QD], row[:QD])
				copy(k[t*KVD:t*KVD+KVD], row[QD:QD+KVD])
				copy(v[t*KVD:t*KVD+KVD], row[QD+KVD:])
			}
		} else {
			ly.wq.MatMul(q, xb, T)
			ly.wk.MatMul(k, xb, T)
			ly.wv.MatMul(v, xb, T)
		}
		addBias(q, ly.bqv[0], T)
		addBias(k, ly.bqv[1], T)
		addBias(v, ly.bqv[2], T)
		if ly.qNorm != nil {
			// q = self.q_norm(q.view(T, NH, HD)); k = self.k_norm(k.view(T, NKV, HD))
			tensor.RMSNorm(q, q, ly.qNorm, T*NH, HD, m.eps)
			tensor.RMSNorm(k, k, ly.kNorm, T*NKV, HD, m.eps)
		}
		for _, g := range segs {
			n, P, r := len(g.tokens), g.s.pos, g.row
			cos, sin := g.s.cos[P*half:], g.s.sin[P*half:]
			qg, kg, vg := q[r*QD:(r+n)*QD], k[r*KVD:(r+n)*KVD], v[r*KVD:(r+n)*KVD]
			// q, k = apply_rotary_pos_emb(q, k, cos, sin)
			tensor.RoPEForward(qg, cos, sin, n, n, NH, HD)
			tensor.RoPEForward(kg, cos, sin, n, n, NKV, HD)
			// att = softmax(q @ repeat_kv(k).T / sqrt(HD) + causal_mask) @ repeat_kv(v)
			g.s.kv.Store(l, P, kg, vg)
			g.s.kv.Attention(l, att[r*QD:(r+n)*QD], qg, n, P, NH, NKV, HD)
		}
		// x = x + self.o_proj(att)
		ly.wo.MatMul(xb, att, T)
		addBias(xb, ly.bo, T)
		addInPlace(x, xb)

		// xb = self.post_attention_layernorm(x)
		tensor.RMSNorm(xb, x, ly.mlpNorm, T, C, m.eps)
		// x = x + self.down_proj(F.silu(self.gate_proj(xb)) * self.up_proj(xb))
		// The activation runs an exp per element (T×F of them); split it
		// over the workers like the matmuls around it.
		if ly.wgu != nil {
			gu := a.fused[:T*2*F]
			ly.wgu.MatMul(gu, xb, T)
			a.act = swigluOp{out: hb, gate: gu, up: gu[F:], F: F, stride: 2 * F}
		} else {
			hb2 := a.hb2[:T*F]
			ly.wgate.MatMul(hb, xb, T)
			ly.wup.MatMul(hb2, xb, T)
			a.act = swigluOp{out: hb, gate: hb, up: hb2, F: F, stride: F}
		}
		tensor.ParallelSplit(len(hb), &a.act)
		ly.wdown.MatMul(xb, hb, T)
		addInPlace(x, xb)
	}
	for _, g := range segs {
		g.s.pos += len(g.tokens)
	}
}

// addBias adds b (N) to every row of x (T, N); nil b is no bias.
func addBias(x, b []float32, T int) {
	if b == nil {
		return
	}
	N := len(b)
	for t := 0; t < T; t++ {
		row := x[t*N : t*N+N]
		for i, v := range b {
			row[i] += v
		}
	}
}

func addInPlace(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// swigluOp sets out (T, F) = silu(gate) * up, where token t's gate and up
// rows start at t*stride in their slices (stride F for separate buffers,
// 2F for a fused gate/up output, whose up half starts F in).
type swigluOp struct {
	out, gate, up []float32
	F, stride     int
}

func (a *swigluOp) Run(_, lo, hi int) {
	for lo < hi { // a range may span rows
		t, j := lo/a.F, lo%a.F
		n := min(hi-lo, a.F-j)
		o := t*a.stride + j
		tensor.SwiGLU(a.out[lo:lo+n], a.gate[o:o+n], a.up[o:o+n])
		lo += n
	}
}

// CopyPrefix makes this State hold the first n tokens src holds (n ≤
// src.Pos()), copying their keys and values instead of recomputing them:
// a prompt that starts with what another sequence has already run (a
// shared system prompt, the previous turns of a chat) runs only the rest.
// Both States must come from the same Model with the same cache type.
func (s *State) CopyPrefix(src *State, n int) error {
	if src.m != s.m {
		return errors.New("copy KV prefix: the states belong to different models")
	}
	if n < 0 || n > src.pos || n > s.maxSeq {
		return fmt.Errorf("copy KV prefix: %d tokens requested, the source holds %d and this state takes %d", n, src.pos, s.maxSeq)
	}
	if err := s.kv.CopyFrom(src.kv, n); err != nil {
		return fmt.Errorf("copy KV prefix: %w", err)
	}
	s.pos = n
	return nil
}
