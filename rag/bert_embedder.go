package rag

import (
	"context"
	"fmt"
	"sync"

	"ragtune/model/bert"
)

// bertBatch is how many texts one encoder call takes; the encoder packs
// them into passes by token count itself, so this only bounds how long a
// call runs before the context is checked again.
const bertBatch = 64

// BertEmbedder embeds texts with a local BERT-family encoder (bge etc.,
// see model/bert): vectors are L2-normalized, so dot product is cosine.
func BertEmbedder(m *bert.Model) Embedder {
	return Batched(func(ctx context.Context, texts []string) ([][]float32, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vecs, err := m.Embed(texts)
		if err != nil {
			return nil, fmt.Errorf("local BERT embedder: %w", err)
		}
		return vecs, nil
	}, bertBatch)
}

// LocalBertEmbedder loads the encoder at path (an HF directory or a GGUF
// file, see bert.Load) on first use, so a knowledge base that names a
// local model opens without paying for the load until it embeds. A load
// error is returned by every call. A Qwen3 directory (Qwen3-Embedding)
// loads as a decoder embedder (Qwen3Embedder). Queries get the model
// family's instruction (QueryInstruction).
func LocalBertEmbedder(path string) Embedder {
	return WithQueryInstruction(localBertEmbedder(path), QueryInstruction(path))
}

func localBertEmbedder(path string) Embedder {
	var (
		once sync.Once
		emb  Embedder
		err  error
	)
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		once.Do(func() {
			if isQwen3(path) {
				emb, err = loadQwen3Embedder(path)
				return
			}
			var m *bert.Model
			if m, err = bert.Load(path); err != nil {
				err = fmt.Errorf("load embedding model: %w (give an HF BERT or XLM-RoBERTa directory, or a bert GGUF file)", err)
				return
			}
			emb = BertEmbedder(m)
		})
		if err != nil {
			return nil, err
		}
		return emb(ctx, texts)
	}
}
