package eval

import (
	"fmt"

	"ragtune/model/qwen2"
)

// scoreChunk is how many positions one ForwardAll call handles: the logits
// buffer is scoreChunk × vocabulary floats (39 MB for Qwen2's 151936), not
// window × vocabulary (600 MB for a 1024-token window).
const scoreChunk = 64

// scorerContext is the longest question+answer the suites score for
// answer-only perplexity (clamped to the model's maximum); its KV cache is
// 235 MB on the 1.5B shape. Longer prompts are left out of perplexities.
const scorerContext = 4096

// Scorer computes next-token log-probabilities with a model, reusing one KV
// cache and one logits buffer across calls. It is not safe for concurrent
// use; make one per goroutine (the Model itself may be shared).
type Scorer struct {
	m      *qwen2.Model
	st     *qwen2.State
	logits []float32 // (scoreChunk, V)
}

// NewScorer returns a Scorer for sequences of up to maxSeq tokens (clamped to
// the model's context).
func NewScorer(m *qwen2.Model, maxSeq int) *Scorer {
	return &Scorer{m: m, st: m.NewState(maxSeq), logits: make([]float32, scoreChunk*m.VocabSize())}
}

// MaxSeq is the longest sequence LogProbs accepts.
func (s *Scorer) MaxSeq() int { return s.st.MaxSeq() }

// LogProbs runs tokens from position 0 and returns log p(tokens[i] |
// tokens[:i]) for every i in [from, len(tokens)), in order. from must be at
// least 1: the first token has nothing to be predicted from.
func (s *Scorer) LogProbs(tokens []int, from int) ([]float64, error) {
	n := len(tokens)
	if from < 1 || from > n {
		return nil, fmt.Errorf("score tokens: first scored position %d outside [1, %d]", from, n)
	}
	if n > s.st.MaxSeq() {
		return nil, fmt.Errorf("score tokens: %d tokens exceed the scorer's %d-token context; use a smaller window", n, s.st.MaxSeq())
	}
	V := s.m.VocabSize()
	s.st.Truncate(0)
	out := make([]float64, 0, n-from)
	// Positions before from-1 only fill the KV cache: their logits are
	// never read, so Forward (which computes the head for one row) does.
	if pre := from - 1; pre > 0 {
		if _, err := s.st.Forward(tokens[:pre]); err != nil {
			return nil, fmt.Errorf("score tokens: %w", err)
		}
	}
	// Position p's logits predict token p+1.
	for p0 := from - 1; p0 < n-1; p0 += scoreChunk {
		p1 := min(p0+scoreChunk, n-1)
		T := p1 - p0
		if err := s.st.ForwardAll(tokens[p0:p1], s.logits[:T*V]); err != nil {
			return nil, fmt.Errorf("score tokens: %w", err)
		}
		for t := range T {
			lp, err := LogProbOf(s.logits[t*V:(t+1)*V], tokens[p0+t+1])
			if err != nil {
				return nil, fmt.Errorf("score token %d: %w", p0+t+1, err)
			}
			out = append(out, lp)
		}
	}
	return out, nil
}

// WindowLogProbs scores every token of a long sequence with the sliding
// window plan of SlidingWindows (Hugging Face's strided perplexity): each
// token after the first is scored once, with up to window−1 tokens of
// context. progress, if not nil, is called after each window with the
// number of windows done and their total.
func (s *Scorer) WindowLogProbs(tokens []int, window, stride int, progress func(done, total int)) ([]float64, error) {
	if w := min(window, len(tokens)); w > s.st.MaxSeq() {
		return nil, fmt.Errorf("perplexity window %d exceeds the scorer's %d-token context (the model's maximum): pass a smaller --window", w, s.st.MaxSeq())
	}
	plan, err := SlidingWindows(len(tokens), window, stride)
	if err != nil {
		return nil, err
	}
	var out []float64
	for i, w := range plan {
		lp, err := s.LogProbs(tokens[w.Begin:w.End], w.ScoreFrom-w.Begin)
		if err != nil {
			return nil, fmt.Errorf("window %d [%d, %d): %w", i, w.Begin, w.End, err)
		}
		out = append(out, lp...)
		if progress != nil {
			progress(i+1, len(plan))
		}
	}
	return out, nil
}

// ModelPerplexity is the perplexity of tokens under m with the sliding
// window plan of SlidingWindows (window tokens of context at most, windows
// starting every stride tokens). The result's Tokens counts the scored
// tokens: every token but the first.
func ModelPerplexity(m *qwen2.Model, tokens []int, window, stride int) (Perplexity, error) {
	var p Perplexity
	if window < 2 {
		return p, fmt.Errorf("perplexity: window of %d tokens; need at least 2", window)
	}
	lp, err := NewScorer(m, min(window, max(2, len(tokens)))).WindowLogProbs(tokens, window, stride, nil)
	if err != nil {
		return p, err
	}
	err = p.Add(lp...)
	return p, err
}

// MaskedLogProbs scores the tokens whose label is not -100 (HF's ignore
// index), each predicted from all tokens before it: the answer-only
// log-probabilities of an SFT sample. Labels[0] is never scored.
func (s *Scorer) MaskedLogProbs(tokens []int, labels []int32) ([]float64, error) {
	if len(labels) != len(tokens) {
		return nil, fmt.Errorf("masked scoring: %d labels for %d tokens", len(labels), len(tokens))
	}
	first := -1
	for i := 1; i < len(labels); i++ {
		if labels[i] != -100 {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("masked scoring: no labelled token after the first position")
	}
	all, err := s.LogProbs(tokens, first)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for i, lp := range all {
		if labels[first+i] != -100 {
			out = append(out, lp)
		}
	}
	return out, nil
}

// SamplesPerplexity scores each sample separately (each from its own first
// token, with the sliding-window plan when longer than window) and reports
// the token-weighted corpus perplexity next to the mean and median of the
// per-sample ones. Samples of fewer than two tokens are an error: nothing
// in them is predicted. progress, if not nil, is called after each sample.
func (s *Scorer) SamplesPerplexity(samples [][]int, window, stride int, progress func(done, total int)) (PerplexityReport, error) {
	lps := make([][]float64, len(samples))
	for i, toks := range samples {
		if len(toks) < 2 {
			return PerplexityReport{}, fmt.Errorf("sample %d has %d tokens; perplexity needs at least 2", i+1, len(toks))
		}
		lp, err := s.WindowLogProbs(toks, window, stride, nil)
		if err != nil {
			return PerplexityReport{}, fmt.Errorf("sample %d: %w", i+1, err)
		}
		lps[i] = lp
		if progress != nil {
			progress(i+1, len(samples))
		}
	}
	return AggregatePerplexity(lps)
}
