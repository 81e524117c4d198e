package eval

import (
	"fmt"
	"math"
	"sort"
)

// Perplexity accumulates per-token natural-log probabilities; its zero value
// is ready. PPL = exp(−mean log p) over every token added, so adding the
// tokens of several samples gives the token-weighted corpus perplexity.
type Perplexity struct {
	NLL    float64 // sum of −log p
	Tokens int
}

// Add records the log-probabilities of scored tokens. A value above 0 (a
// probability above 1, beyond rounding) or NaN is an error; −Inf is allowed
// and makes the perplexity infinite.
func (p *Perplexity) Add(logProbs ...float64) error {
	for i, lp := range logProbs {
		if math.IsNaN(lp) || lp > 1e-6 {
			return fmt.Errorf("perplexity: log-probability %d is %v; pass natural logs of probabilities (≤ 0)", i, lp)
		}
		p.NLL -= min(lp, 0)
	}
	p.Tokens += len(logProbs)
	return nil
}

// Merge adds another accumulator's tokens.
func (p *Perplexity) Merge(q Perplexity) {
	p.NLL += q.NLL
	p.Tokens += q.Tokens
}

// MeanNLL is the average negative log-likelihood per token in nats (the
// cross-entropy loss); NaN with no tokens.
func (p Perplexity) MeanNLL() float64 {
	if p.Tokens == 0 {
		return math.NaN()
	}
	return p.NLL / float64(p.Tokens)
}

// Value is exp(MeanNLL); NaN with no tokens.
func (p Perplexity) Value() float64 { return math.Exp(p.MeanNLL()) }

// BitsPerToken is MeanNLL in bits.
func (p Perplexity) BitsPerToken() float64 { return p.MeanNLL() / math.Ln2 }

// PerplexityReport aggregates samples two ways, because they answer
// different questions: Corpus weights every token equally (what training
// loss tracks); MeanOfSamples and MedianOfSamples weight every sample
// equally (so a few long documents cannot hide many bad short ones).
type PerplexityReport struct {
	Corpus          float64   `json:"corpus"`
	MeanNLL         float64   `json:"mean_nll"`
	MeanOfSamples   float64   `json:"mean_of_samples"`
	MedianOfSamples float64   `json:"median_of_samples"`
	PerSample       []float64 `json:"per_sample"`
	Tokens          int       `json:"tokens"`
	Samples         int       `json:"samples"`
}

// AggregatePerplexity reports perplexity over samples, each a list of
// per-token log-probabilities. Samples without scored tokens are an error:
// their perplexity is undefined.
func AggregatePerplexity(samples [][]float64) (PerplexityReport, error) {
	if len(samples) == 0 {
		return PerplexityReport{}, fmt.Errorf("perplexity: no samples")
	}
	var corpus Perplexity
	rep := PerplexityReport{PerSample: make([]float64, len(samples)), Samples: len(samples)}
	sum := 0.0
	for i, s := range samples {
		if len(s) == 0 {
			return PerplexityReport{}, fmt.Errorf("perplexity: sample %d has no scored tokens (a sample needs at least 2 tokens, as the first is never predicted)", i)
		}
		var p Perplexity
		if err := p.Add(s...); err != nil {
			return PerplexityReport{}, fmt.Errorf("sample %d: %w", i, err)
		}
		rep.PerSample[i] = p.Value()
		sum += rep.PerSample[i]
		corpus.Merge(p)
	}
	rep.Corpus = corpus.Value()
	rep.MeanNLL = corpus.MeanNLL()
	rep.Tokens = corpus.Tokens
	rep.MeanOfSamples = sum / float64(len(samples))
	sorted := append([]float64(nil), rep.PerSample...)
	sort.Float64s(sorted)
	if n := len(sorted); n%2 == 1 {
		rep.MedianOfSamples = sorted[n/2]
	} else {
		rep.MedianOfSamples = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return rep, nil
}

// LogProbOf returns log softmax(logits)[target] in float64, stably (the max
// logit is subtracted before exponentiating).
func LogProbOf(logits []float32, target int) (float64, error) {
	if target < 0 || target >= len(logits) {
		return 0, fmt.Errorf("perplexity: target token %d outside vocabulary of %d", target, len(logits))
	}
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, float64(l))
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return 0, fmt.Errorf("perplexity: logits are not finite (max %v)", m)
	}
	sum := 0.0
	for _, l := range logits {
		sum += math.Exp(float64(l) - m)
	}
	return float64(logits[target]) - m - math.Log(sum), nil
}

// Window is one forward pass of sliding-window perplexity: the model reads
// tokens [Begin, End) and the log-probabilities of tokens at positions
// [ScoreFrom, End) are counted, each predicted from the tokens before it
// inside the window.
type Window struct {
	Begin, End, ScoreFrom int
}

// SlidingWindows plans strided perplexity over n tokens with a context of
// maxLength tokens, as in Hugging Face's "Perplexity of fixed-length models"
// guide: windows start every stride tokens; each scores only the tokens the
// previous window did not, so every token after the first is scored exactly
// once, with at least maxLength−stride tokens of context once the first
// window is passed. (The first token of the sequence has no prediction.)
// stride == maxLength gives disjoint chunks, whose first tokens are then
// not scored.
func SlidingWindows(n, maxLength, stride int) ([]Window, error) {
	if maxLength < 2 {
		return nil, fmt.Errorf("perplexity: window of %d tokens; need at least 2", maxLength)
	}
	if stride < 1 || stride > maxLength {
		return nil, fmt.Errorf("perplexity: stride %d must be between 1 and the window length %d", stride, maxLength)
	}
	if n < 2 {
		return nil, nil
	}
	var out []Window
	prevEnd := 0
	for begin := 0; begin < n; begin += stride {
		end := min(begin+maxLength, n)
		// The model's internal shift means the window's first position has
		// no prediction, whatever the target mask says.
		from := max(prevEnd, begin+1)
		if from < end {
			out = append(out, Window{Begin: begin, End: end, ScoreFrom: from})
		}
		prevEnd = end
		if end == n {
			break
		}
	}
	return out, nil
}
