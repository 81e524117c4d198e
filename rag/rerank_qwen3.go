package rag

import (
	"context"
	"fmt"

	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// Qwen3-Reranker scores a pair by asking the model whether the document
// meets the query and reading its next-token logits for "yes" and "no";
// the prompt is the one the model card documents.
const (
	qwen3RerankPrefix = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n"
	qwen3RerankSuffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
	// Qwen3RerankInstruction is the model card's default task.
	Qwen3RerankInstruction = "Given a web search query, retrieve relevant passages that answer the query"
)

// Qwen3RerankScorer scores pairs with a Qwen3-Reranker causal LM: the
// score is logit(yes) − logit(no) at the answer position, the log-odds of
// the model card's softmax over the two (so it orders pairs the same way).
// Documents too long for the context are cut from the end.
func Qwen3RerankScorer(m *qwen2.Model, tok *tokenizer.BPE, instruction string) (RerankScorer, error) {
	yes, ok1 := tok.TokenID("yes")
	no, ok2 := tok.TokenID("no")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("Qwen3 reranker: the tokenizer has no single \"yes\"/\"no\" tokens; is this a Qwen3-Reranker checkpoint?")
	}
	if instruction == "" {
		instruction = Qwen3RerankInstruction
	}
	enc := func(s string) []int {
		return tok.EncodeWith(s, tokenizer.EncodeOptions{ParseSpecial: true})
	}
	plain := func(s string) []int { return tok.EncodeWith(s, tokenizer.EncodeOptions{}) }
	// The user turn is encoded in one piece, as the reference tokenizes
	// the whole prompt (a word's leading space belongs to the word), but
	// without special-token parsing, so a document cannot close the turn.
	head, tail := enc(qwen3RerankPrefix), enc(qwen3RerankSuffix)
	return func(ctx context.Context, query string, docs []string) ([]float64, error) {
		out := make([]float64, len(docs))
		for i, d := range docs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			user := plain("<Instruct>: " + instruction + "\n<Query>: " + query + "\n<Document>: " + d)
			if room := m.MaxContext() - len(head) - len(tail); len(user) > room {
				if room <= 0 {
					return nil, fmt.Errorf("Qwen3 reranker: the prompt template alone exceeds the %d-token context", m.MaxContext())
				}
				user = user[:room] // the document comes last, so its end is cut
			}
			ids := append(append(append([]int{}, head...), user...), tail...)
			st := m.NewState(len(ids))
			logits, err := st.Forward(ids)
			if err != nil {
				return nil, fmt.Errorf("Qwen3 reranker: %w", err)
			}
			out[i] = float64(logits[yes] - logits[no])
		}
		return out, nil
	}, nil
}
