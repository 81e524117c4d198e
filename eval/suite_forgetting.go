package eval

import (
	"context"
	"errors"
	"fmt"
	"math"

	"ragtune/train/data"
)

// ForgettingResult compares the base and the tuned model on the same
// general-knowledge items: catastrophic forgetting shows as a perplexity
// ratio above 1 and as items the base got right and the tuned model gets
// wrong.
//
// "Right" has one definition per item. An item with choices is right when
// the reference has the lowest mean answer-token NLL among the choices,
// each scored as the assistant's answer to the question (no generation, so
// a model that cannot finish an answer is still measured). Without
// choices, or without the weights in this process, an item is right when
// the greedy answer's F1 against the references (CMRC style for Chinese,
// SQuAD for English) reaches Thresholds.RightF1.
type ForgettingResult struct {
	Items int `json:"items"`
	// Token-weighted answer-only perplexity of the references.
	BasePPL  float64 `json:"base_ppl"`
	TunedPPL float64 `json:"tuned_ppl"`
	// PPLRatio is TunedPPL / BasePPL: above 1, the tuned model finds the
	// general answers less likely than the base did.
	PPLRatio      float64 `json:"ppl_ratio"`
	BaseAccuracy  float64 `json:"base_accuracy"`  // percent right
	TunedAccuracy float64 `json:"tuned_accuracy"` // percent right
	// RightToWrong counts items the base got right and the tuned model
	// wrong (forgotten); WrongToRight the reverse.
	RightToWrong int              `json:"right_to_wrong"`
	WrongToRight int              `json:"wrong_to_right"`
	Base         TextScores       `json:"base"`
	Tuned        TextScores       `json:"tuned"`
	PerItem      []ForgettingItem `json:"per_item"`
}

// ForgettingItem is one item on both models.
type ForgettingItem struct {
	ID          string  `json:"id"`
	Question    string  `json:"question"`
	Reference   string  `json:"reference"` // the first reference answer
	Method      string  `json:"method"`    // "choice-ppl" or "greedy-f1"
	BaseRight   bool    `json:"base_right"`
	TunedRight  bool    `json:"tuned_right"`
	BaseAnswer  string  `json:"base_answer"`
	TunedAnswer string  `json:"tuned_answer"`
	BasePPL     float64 `json:"base_ppl,omitempty"`
	TunedPPL    float64 `json:"tuned_ppl,omitempty"`
	Flip        string  `json:"flip,omitempty"` // "right→wrong", "wrong→right"
}

// forgetSide is one model's judgement of every item.
type forgetSide struct {
	right   []bool
	method  []string
	answers []string
	ppl     []float64
	acc     Perplexity
	scores  TextScores
}

func forgetScore(ctx context.Context, m *Model, items []Item, g GenOptions, th Thresholds, pr *progress) (*forgetSide, error) {
	s := &forgetSide{right: make([]bool, len(items)), method: make([]string, len(items)), answers: make([]string, len(items)), ppl: make([]float64, len(items))}
	var sc *Scorer
	if m.Net != nil {
		sc = NewScorer(m.Net, scorerContext)
	}
	g, stop := g.prefetch(ctx, m, questions(items))
	defer stop()
	for i, it := range items {
		ans, _, err := answer(ctx, m, g, it.Question)
		if err != nil {
			return nil, err
		}
		s.answers[i] = ans
		scored := false
		if sc != nil {
			lp, err := answerLogProbs(sc, m, it.Question, it.Answers[0])
			switch {
			case errors.Is(err, data.ErrTooLong):
				// The question alone fills the scorer's context.
			case err != nil:
				return nil, fmt.Errorf("item %s: %w", it.ID, err)
			default:
				var p Perplexity
				if err := p.Add(lp...); err != nil {
					return nil, err
				}
				s.ppl[i] = p.Value()
				s.acc.Merge(p)
				scored = true
			}
		}
		if scored && len(it.Choices) > 0 {
			best, bestNLL := -1, math.Inf(1)
			for c, choice := range it.Choices {
				lp, err := answerLogProbs(sc, m, it.Question, choice)
				if err != nil {
					return nil, fmt.Errorf("item %s choice %d: %w", it.ID, c, err)
				}
				var p Perplexity
				if err := p.Add(lp...); err != nil {
					return nil, err
				}
				if nll := p.MeanNLL(); nll < bestNLL {
					best, bestNLL = c, nll
				}
			}
			s.method[i] = "choice-ppl"
			s.right[i] = best >= 0 && it.Choices[best] == it.Answers[0]
		} else {
			s.method[i] = "greedy-f1"
			s.right[i] = isRight(it, ans, th)
		}
		pr.step()
	}
	var err error
	s.scores, err = scoreTexts(items, s.answers)
	return s, err
}

// RunForgetting scores items on base and tuned and counts the flips.
func RunForgetting(ctx context.Context, base, tuned *Model, items []Item, g GenOptions, th Thresholds, pr *progress) (*ForgettingResult, error) {
	th = th.withDefaults()
	if base == nil {
		return nil, fmt.Errorf("forgetting compares two models: pass the model before fine-tuning with --base")
	}
	for _, it := range items {
		if len(it.Answers) == 0 {
			return nil, fmt.Errorf("forgetting item %s has no reference answer", it.ID)
		}
	}
	b, err := forgetScore(ctx, base, items, g, th, pr)
	if err != nil {
		return nil, err
	}
	t, err := forgetScore(ctx, tuned, items, g, th, pr)
	if err != nil {
		return nil, err
	}
	res := &ForgettingResult{Items: len(items), Base: b.scores, Tuned: t.scores}
	if b.acc.Tokens > 0 && t.acc.Tokens > 0 {
		res.BasePPL, res.TunedPPL = b.acc.Value(), t.acc.Value()
		res.PPLRatio = finite(res.TunedPPL / res.BasePPL)
	}
	nb, nt := 0, 0
	for i, it := range items {
		fi := ForgettingItem{
			ID: it.ID, Question: it.Question, Reference: it.Answers[0], Method: b.method[i], BaseRight: b.right[i], TunedRight: t.right[i],
			BaseAnswer: b.answers[i], TunedAnswer: t.answers[i], BasePPL: finite(b.ppl[i]), TunedPPL: finite(t.ppl[i]),
		}
		if b.method[i] != t.method[i] {
			// Only one side had weights: compare like with like.
			fi.Method = "greedy-f1"
			fi.BaseRight, fi.TunedRight = isRight(it, b.answers[i], th), isRight(it, t.answers[i], th)
		}
		switch {
		case fi.BaseRight && !fi.TunedRight:
			fi.Flip = "right→wrong"
			res.RightToWrong++
		case !fi.BaseRight && fi.TunedRight:
			fi.Flip = "wrong→right"
			res.WrongToRight++
		}
		if fi.BaseRight {
			nb++
		}
		if fi.TunedRight {
			nt++
		}
		res.PerItem = append(res.PerItem, fi)
	}
	res.BaseAccuracy = 100 * float64(nb) / float64(len(items))
	res.TunedAccuracy = 100 * float64(nt) / float64(len(items))
	return res, nil
}

// finite maps NaN and ±Inf to 0, which JSON can carry.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
