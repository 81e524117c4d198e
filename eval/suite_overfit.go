package eval

import (
	"context"
	"errors"
	"fmt"
	"math"

	"ragtune/train/data"
)

// OverfitResult compares a model on the data it was trained on with data it
// was not: a validation perplexity far above the training one, or overlap
// scores far below, means the model memorized instead of learning.
type OverfitResult struct {
	TrainItems      int `json:"train_items"`
	ValidationItems int `json:"validation_items"`
	// Answer-only perplexity: the reference answer's tokens given the
	// question through the chat template (what the SFT loss measures),
	// token-weighted over each split. 0 when the model's weights are not
	// in this process.
	TrainPPL      float64 `json:"train_ppl"`
	ValidationPPL float64 `json:"validation_ppl"`
	// PPLRatio is ValidationPPL / TrainPPL (1 = no gap); PPLGap their
	// difference in mean NLL (nats per token).
	PPLRatio float64 `json:"ppl_ratio"`
	NLLGap   float64 `json:"nll_gap"`
	// Generated answers against the references, per split.
	Train      TextScores  `json:"train"`
	Validation TextScores  `json:"validation"`
	Items      []ItemScore `json:"items"`
}

// ItemScore is one item's outcome, for the report's detail table.
type ItemScore struct {
	ID        string  `json:"id"`
	Split     string  `json:"split,omitempty"`
	Question  string  `json:"question"`
	Reference string  `json:"reference"` // the first reference answer
	Answer    string  `json:"answer"`
	F1        float64 `json:"f1"`
	PPL       float64 `json:"ppl,omitempty"`
}

// RunOverfit scores items whose Split is "train" against the rest.
func RunOverfit(ctx context.Context, m *Model, items []Item, g GenOptions, pr *progress) (*OverfitResult, error) {
	var trainSet, val []Item
	for _, it := range items {
		if it.Split == "train" {
			trainSet = append(trainSet, it)
		} else {
			val = append(val, it)
		}
	}
	if len(trainSet) == 0 || len(val) == 0 {
		return nil, fmt.Errorf("overfit needs both splits: %d train and %d validation items (set \"split\": \"train\" on the training rows)", len(trainSet), len(val))
	}
	res := &OverfitResult{TrainItems: len(trainSet), ValidationItems: len(val)}
	var sc *Scorer
	if m.Net != nil {
		sc = NewScorer(m.Net, scorerContext)
	}
	split := func(set []Item, name string) (TextScores, Perplexity, error) {
		var acc Perplexity
		preds := make([]string, len(set))
		g, stop := g.prefetch(ctx, m, questions(set))
		defer stop()
		for i, it := range set {
			ans, _, err := answer(ctx, m, g, it.Question)
			if err != nil {
				return TextScores{}, acc, err
			}
			preds[i] = ans
			is := ItemScore{ID: it.ID, Split: name, Question: it.Question, Reference: it.Answers[0], Answer: ans}
			_, is.F1 = qaScore(it, ans)
			if sc != nil {
				lp, err := answerLogProbs(sc, m, it.Question, it.Answers[0])
				switch {
				case errors.Is(err, data.ErrTooLong):
					// The question alone fills the scorer's context: no PPL.
				case err != nil:
					return TextScores{}, acc, fmt.Errorf("item %s: %w", it.ID, err)
				default:
					var p Perplexity
					if err := p.Add(lp...); err != nil {
						return TextScores{}, acc, err
					}
					is.PPL = finite(p.Value())
					acc.Merge(p)
				}
			}
			res.Items = append(res.Items, is)
			pr.step()
		}
		ts, err := scoreTexts(set, preds)
		return ts, acc, err
	}
	var trainPPL, valPPL Perplexity
	var err error
	if res.Train, trainPPL, err = split(trainSet, "train"); err != nil {
		return nil, err
	}
	if res.Validation, valPPL, err = split(val, "validation"); err != nil {
		return nil, err
	}
	if trainPPL.Tokens > 0 && valPPL.Tokens > 0 {
		res.TrainPPL = trainPPL.Value()
		res.ValidationPPL = valPPL.Value()
		res.PPLRatio = res.ValidationPPL / res.TrainPPL
		res.NLLGap = valPPL.MeanNLL() - trainPPL.MeanNLL()
		if math.IsInf(res.PPLRatio, 0) || math.IsNaN(res.PPLRatio) {
			res.PPLRatio = 0
		}
	}
	return res, nil
}
