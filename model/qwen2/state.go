package qwen2

import (
	"errors"
	"fmt"

	"ragtune/tensor"
)

// ErrContextLength is returned (wrapped) when a Forward call would run past
// the State's maximum sequence length.
var ErrContextLength = errors.New("context length exceeded")

// State is one sequence being decoded: its KV cache and the activation
// buffers of one prefill chunk, all allocated by NewState. A State is not
// safe for concurrent use; use one per sequence.
type State struct {
	m      *Model
	maxSeq int
	chunk  int
	pos    int

	cos, sin []float32       // (maxSeq, HD/2) RoPE tables
	kv       *tensor.KVCache // every layer's keys (rotated) and values, up to maxSeq
	k, v     []float32       // (chunk, NKV*HD) the chunk's new keys and values

	x      []float32 // (chunk, C) residual stream
	xb     []float32 // (chunk, C) normalized input / projection output
	q      []float32 // (chunk, NH*HD)
	att    []float32 // (chunk, NH*HD) attention output
	hb     []float32 // (chunk, F) gate, then silu(gate)*up
	hb2    []float32 // (chunk, F) up, unfused layers only
	fused  []float32 // (chunk, max(NH*HD+2*NKV*HD, 2F)) fused q/k/v or gate/up outputs
	act    swigluOp  // the SwiGLU task, kept here so decode allocates nothing
	logits []float32 // (V) last token's logits
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
	QD, KVD := m.nHead*m.headDim, m.nKV*m.headDim
	s := &State{
		m: m, maxSeq: maxSeq, chunk: chunk,
		cos: make([]float32, maxSeq*m.headDim/2), sin: make([]float32, maxSeq*m.headDim/2),
		kv: tensor.NewKVCache(t, len(m.layers), KVD, maxSeq),
		k:  make([]float32, chunk*KVD), v: make([]float32, chunk*KVD),
		x: make([]float32, chunk*m.dim), xb: make([]float32, chunk*m.dim),
		q: make([]float32, chunk*QD), att: make([]float32, chunk*QD),
		hb:     make([]float32, chunk*m.ffn),
		logits: make([]float32, m.vocab),
	}
	for _, ly := range m.layers {
		if ly.wgate != nil && s.hb2 == nil {
			s.hb2 = make([]float32, chunk*m.ffn)
		}
		if (ly.wqkv != nil || ly.wgu != nil) && s.fused == nil {
			s.fused = make([]float32, chunk*max(QD+2*KVD, 2*m.ffn))
		}
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
	tensor.RMSNorm(s.xb[r0*C:(r0+n)*C], s.x[r0*C:(r0+n)*C], m.norm, n, C, m.eps)
	m.head.MatMul(out[:n*m.vocab], s.xb[r0*C:(r0+n)*C], n)
}

// step runs T ≤ chunk tokens through every layer at position s.pos,
// leaving the final residual stream in s.x.
func (s *State) step(tokens []int) {
	m := s.m
	T, P := len(tokens), s.pos
	C, F, NH, NKV, HD := m.dim, m.ffn, m.nHead, m.nKV, m.headDim
	QD, KVD, half := NH*HD, NKV*HD, HD/2
	x, xb := s.x[:T*C], s.xb[:T*C]
	q, att := s.q[:T*QD], s.att[:T*QD]
	hb := s.hb[:T*F]
	cos, sin := s.cos[P*half:], s.sin[P*half:]

	// x = self.embed_tokens(tokens)
	for t, id := range tokens {
		m.embed.Row(x[t*C:t*C+C], id)
	}
	for l := range m.layers {
		ly := &m.layers[l]
		k, v := s.k[:T*KVD], s.v[:T*KVD] // stored in the cache after RoPE

		// xb = self.input_layernorm(x)
		tensor.RMSNorm(xb, x, ly.attnNorm, T, C, m.eps)
		// q, k, v = self.q_proj(xb), self.k_proj(xb), self.v_proj(xb)
		if ly.wqkv != nil {
			W := QD + 2*KVD
			qkv := s.fused[:T*W]
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
		// q, k = apply_rotary_pos_emb(q, k, cos, sin)
		tensor.RoPEForward(q, cos, sin, T, T, NH, HD)
		tensor.RoPEForward(k, cos, sin, T, T, NKV, HD)
		// att = softmax(q @ repeat_kv(k).T / sqrt(HD) + causal_mask) @ repeat_kv(v)
		s.kv.Store(l, P, k, v)
		s.kv.Attention(l, att, q, T, P, NH, NKV, HD)
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
			gu := s.fused[:T*2*F]
			ly.wgu.MatMul(gu, xb, T)
			s.act = swigluOp{out: hb, gate: gu, up: gu[F:], F: F, stride: 2 * F}
		} else {
			hb2 := s.hb2[:T*F]
			ly.wgate.MatMul(hb, xb, T)
			ly.wup.MatMul(hb2, xb, T)
			s.act = swigluOp{out: hb, gate: hb, up: hb2, F: F, stride: F}
		}
		tensor.ParallelSplit(len(hb), &s.act)
		ly.wdown.MatMul(xb, hb, T)
		addInPlace(x, xb)
	}
	s.pos += T
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
