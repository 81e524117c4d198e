package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"ragtune/model/bert"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
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

// LocalCrossEncoder loads the reranker at path on first use: an HF
// directory of a BERT or XLM-RoBERTa sequence-classification model
// (bge-reranker layouts), or of a Qwen3ForCausalLM Qwen3-Reranker. A load
// error is returned by every call.
func LocalCrossEncoder(path string) RerankScorer {
	var (
		once  sync.Once
		score RerankScorer
		err   error
	)
	return func(ctx context.Context, query string, docs []string) ([]float64, error) {
		once.Do(func() {
			if isQwen3(path) {
				score, err = loadQwen3Reranker(path)
				return
			}
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

// isQwen3 reports whether path is an HF directory whose config.json names
// the Qwen3 causal-LM architecture.
func isQwen3(path string) bool {
	data, err := os.ReadFile(filepath.Join(path, "config.json"))
	if err != nil {
		return false
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	return json.Unmarshal(data, &c) == nil && c.ModelType == "qwen3"
}

func loadQwen3Reranker(path string) (RerankScorer, error) {
	m, err := qwen2.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load Qwen3 reranker: %w", err)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load Qwen3 reranker tokenizer: %w", err)
	}
	score, err := Qwen3RerankScorer(m, tok, "")
	if err != nil {
		m.Close()
		return nil, err
	}
	return score, nil
}
