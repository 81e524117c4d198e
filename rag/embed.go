package rag

import (
	"context"
	"fmt"
	"net/http"

	"ragtune/openai"
)

// Embedder maps texts to vectors, one per text, in order. The local BERT
// encoder (model/bert) and remote OpenAI-compatible servers both fit it,
// so the dense path does not care where vectors come from.
type Embedder func(ctx context.Context, texts []string) ([][]float32, error)

// Batched wraps e so no call sees more than size texts; servers and the
// local encoder both cap batch sizes.
func Batched(e Embedder, size int) Embedder {
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, 0, len(texts))
		for start := 0; start < len(texts); start += size {
			vecs, err := e(ctx, texts[start:min(start+size, len(texts))])
			if err != nil {
				return nil, err
			}
			out = append(out, vecs...)
		}
		return out, nil
	}
}

// RemoteEmbedder calls an OpenAI-compatible POST {baseURL}/v1/embeddings
// (vLLM, Ollama, llama.cpp server, another ragtune serve). baseURL may
// end in /v1 or not. apiKey may be empty. client nil uses
// http.DefaultClient. Queries get the instruction of the model family
// the model name shows (QueryInstruction).
func RemoteEmbedder(baseURL, model, apiKey string, client *http.Client) Embedder {
	return WithQueryInstruction(remoteEmbedder(baseURL, model, apiKey, client), QueryInstruction(model))
}

func remoteEmbedder(baseURL, model, apiKey string, client *http.Client) Embedder {
	c := openai.NewClient(baseURL, apiKey, client)
	return Batched(func(ctx context.Context, texts []string) ([][]float32, error) {
		vecs, err := c.Embeddings(ctx, model, texts)
		if err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
		return vecs, nil
	}, 64)
}
