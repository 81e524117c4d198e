package rag

import (
	"context"
	"fmt"
	"sync"

	"ragtune/model/bert"
)

// CrossEncoderScorer scores pairs with a loaded cross-encoder
// (model/bert sequence-classification head): the relevance logit of each
// (query, document) pair.
func CrossEncoderScorer(m *bert.Model) RerankScorer {
	return func(ctx context.Context, query string, docs []string) ([]float64, error) {
		out := make([]float64, 0, len(docs))
		// Small batches keep a cancelled request from running a whole
		// depth's forward passes.
		for start := 0; start < len(docs); start += 16 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			s, err := m.ScorePairs(query, docs[start:min(start+16, len(docs))])
			if err != nil {
				return nil, fmt.Errorf("local cross-encoder: %w", err)
			}
			for _, x := range s {
				out = append(out, float64(x))
			}
		}
		return out, nil
	}
}

// LocalCrossEncoder loads the cross-encoder at path (an HF directory of a
// BERT sequence-classification model) on first use; a load error is
// returned by every call.
func LocalCrossEncoder(path string) RerankScorer {
	var (
		once  sync.Once
		score RerankScorer
		err   error
	)
	return func(ctx context.Context, query string, docs []string) ([]float64, error) {
		once.Do(func() {
			var m *bert.Model
			if m, err = bert.Load(path); err != nil {
				err = fmt.Errorf("load reranker: %w (give an HF directory of a BERT or XLM-RoBERTa cross-encoder such as a bge-reranker checkpoint)", err)
				return
			}
			if m.NumLabels() == 0 {
				err = fmt.Errorf("load reranker: %s is a plain encoder without a classification head; --rerank-path needs a cross-encoder (BertForSequenceClassification or XLMRobertaForSequenceClassification), use it with --embed-path instead", path)
				return
			}
			score = CrossEncoderScorer(m)
		})
		if err != nil {
			return nil, err
		}
		return score(ctx, query, docs)
	}
}
