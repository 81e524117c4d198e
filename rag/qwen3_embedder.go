package rag

import (
	"context"
	"errors"
	"fmt"
	"math"

	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// Qwen3Embedder embeds texts with a Qwen3-Embedding model: each text,
// followed by <|endoftext|> (what the model's tokenizer appends), runs
// through the decoder and the last token's final hidden state, L2-
// normalized, is its vector. Texts longer than the context are cut from
// the end. Queries get their instruction from WithQueryInstruction.
func Qwen3Embedder(m *qwen2.Model, tok *tokenizer.BPE) (Embedder, error) {
	eos, ok := tok.TokenID("<|endoftext|>")
	if !ok {
		return nil, errors.New("Qwen3 embedder: the tokenizer has no <|endoftext|> token; is this a Qwen3-Embedding checkpoint?")
	}
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, t := range texts {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			ids := tok.EncodeWith(t, tokenizer.EncodeOptions{})
			if n := m.MaxContext() - 1; len(ids) > n {
				ids = ids[:n]
			}
			ids = append(ids, eos)
			h, err := m.NewState(len(ids)).Hidden(ids)
			if err != nil {
				return nil, fmt.Errorf("Qwen3 embedder: %w", err)
			}
			var ss float64
			for _, x := range h {
				ss += float64(x) * float64(x)
			}
			if ss > 0 {
				inv := float32(1 / math.Sqrt(ss))
				for j := range h {
					h[j] *= inv
				}
			}
			out[i] = h
		}
		return out, nil
	}, nil
}

func loadQwen3Embedder(path string) (Embedder, error) {
	m, err := qwen2.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load Qwen3 embedding model: %w", err)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load Qwen3 embedding tokenizer: %w", err)
	}
	e, err := Qwen3Embedder(m, tok)
	if err != nil {
		m.Close()
		return nil, err
	}
	return e, nil
}
