package qwen2

import (
	"errors"
	"fmt"

	"ragtune/tensor"
)

// Batch runs one forward step over several sequences at once: the next
// token of each decoding sequence and chunks of prompts being prefilled,
// stacked into one activation panel, so each weight matrix is read from
// memory once per step for all of them (decode is bound by reading the
// weights). Attention runs per sequence against its own State's KV cache
// at its own positions. A sequence's logits are bit for bit those it gets
// running alone with State.Forward on the int8 tile kernels (Q8_0/Q4_0),
// which quantize activations per token; float32 and BF16 weights switch
// between a matrix-vector and a GEMM kernel with the panel's height, which
// sums in another order, so there a batch changes the last bits as
// prefill already does against decode.
//
// Its buffers are allocated by NewBatch, so a step allocates nothing. A
// Batch is not safe for concurrent use, and neither are the States in it
// while it runs.
type Batch struct {
	m       *Model
	a       *acts
	maxSeqs int
	segs    []segment
	want    []int     // per segment: its logits row, or -1
	hx      []float32 // (maxSeqs, C) final rows whose logits are wanted
	logits  []float32 // (maxSeqs, V)
	nLogits int
	nTokens int
	ran     bool // want and nLogits describe the last Run
}

// NewBatch allocates a Batch for steps of up to maxTokens tokens from up
// to maxSeqs sequences (each at least 1).
func (m *Model) NewBatch(maxTokens, maxSeqs int) *Batch {
	maxTokens, maxSeqs = max(maxTokens, 1), max(maxSeqs, 1)
	return &Batch{
		m: m, a: m.newActs(maxTokens), maxSeqs: maxSeqs,
		segs:   make([]segment, 0, maxSeqs),
		want:   make([]int, 0, maxSeqs),
		hx:     make([]float32, maxSeqs*m.dim),
		logits: make([]float32, maxSeqs*m.vocab),
	}
}

// MaxTokens is the most tokens one step takes.
func (b *Batch) MaxTokens() int { return b.a.n }

// MaxSeqs is the most sequences one step takes.
func (b *Batch) MaxSeqs() int { return b.maxSeqs }

// Tokens is how many tokens the step queued so far holds.
func (b *Batch) Tokens() int { return b.nTokens }

// Add queues tokens of s for the next Run and returns the sequence's index
// in the step. With logits set, Run computes the logits of its last token
// (Logits(i)); a prompt chunk that is not the prompt's last needs none.
// tokens must stay unchanged until Run returns.
func (b *Batch) Add(s *State, tokens []int, logits bool) (int, error) {
	if b.ran {
		b.want, b.nLogits, b.ran = b.want[:0], 0, false
	}
	if s.m != b.m {
		return 0, errors.New("batch: the state belongs to another model")
	}
	if len(b.segs) == b.maxSeqs {
		return 0, fmt.Errorf("batch: already holds %d sequences, its maximum", b.maxSeqs)
	}
	if b.nTokens+len(tokens) > b.a.n {
		return 0, fmt.Errorf("batch: %d more tokens would exceed the step's %d (%d queued)", len(tokens), b.a.n, b.nTokens)
	}
	for _, g := range b.segs {
		if g.s == s {
			return 0, errors.New("batch: the state is already in this step")
		}
	}
	if err := s.check(tokens); err != nil {
		return 0, err
	}
	w := -1
	if logits {
		w = b.nLogits
		b.nLogits++
	}
	b.segs = append(b.segs, segment{s: s, tokens: tokens, row: b.nTokens})
	b.want = append(b.want, w)
	b.nTokens += len(tokens)
	return len(b.segs) - 1, nil
}

// Run runs the queued step: every sequence's tokens go into its KV cache
// and its position advances. The queue is then empty; the logits stay
// readable until the next Run.
func (b *Batch) Run() {
	if b.nTokens == 0 {
		b.ran = true
		return
	}
	m := b.m
	C, V := m.dim, m.vocab
	m.pass(b.a, b.segs, b.nTokens)
	if b.nLogits > 0 {
		// x = self.norm(x); logits = self.lm_head(x), for the last row of
		// each sequence that wants them, as one panel.
		for i, g := range b.segs {
			if w := b.want[i]; w >= 0 {
				r := g.row + len(g.tokens) - 1
				copy(b.hx[w*C:w*C+C], b.a.x[r*C:r*C+C])
			}
		}
		n := b.nLogits
		tensor.RMSNorm(b.a.xb[:n*C], b.hx[:n*C], m.norm, n, C, m.eps)
		m.head.MatMul(b.logits[:n*V], b.a.xb[:n*C], n)
	}
	for i := range b.segs {
		b.segs[i] = segment{}
	}
	b.segs = b.segs[:0]
	b.nTokens = 0
	b.ran = true
}

// Logits is the last token's logits (VocabSize) of the i-th sequence of
// the last Run, nil when Add did not ask for them. The slice belongs to
// the Batch and is overwritten by the next Run.
func (b *Batch) Logits(i int) []float32 {
	if i < 0 || i >= len(b.want) || b.want[i] < 0 {
		return nil
	}
	V := b.m.vocab
	w := b.want[i]
	return b.logits[w*V : w*V+V]
}

// Reset empties the queue without running it, and forgets the last Run's
// logits.
func (b *Batch) Reset() {
	for i := range b.segs {
		b.segs[i] = segment{}
	}
	b.segs, b.want = b.segs[:0], b.want[:0]
	b.nTokens, b.nLogits, b.ran = 0, 0, false
}
