package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
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
	if client == nil {
		client = http.DefaultClient
	}
	url := strings.TrimRight(baseURL, "/")
	if !strings.HasSuffix(url, "/v1") {
		url += "/v1"
	}
	url += "/embeddings"
	return Batched(func(ctx context.Context, texts []string) ([][]float32, error) {
		body, err := json.Marshal(map[string]any{"model": model, "input": texts, "encoding_format": "float"})
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("embeddings request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("embeddings request to %s: %w", url, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
		if err != nil {
			return nil, fmt.Errorf("embeddings response from %s: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("embeddings request to %s: %s: %s", url, resp.Status, strings.TrimSpace(string(data[:min(len(data), 300)])))
		}
		var r struct {
			Data []struct {
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("embeddings response from %s is not the OpenAI format: %w", url, err)
		}
		if len(r.Data) != len(texts) {
			return nil, fmt.Errorf("embeddings response from %s has %d vectors for %d texts", url, len(r.Data), len(texts))
		}
		sort.Slice(r.Data, func(i, j int) bool { return r.Data[i].Index < r.Data[j].Index })
		out := make([][]float32, len(texts))
		for i, d := range r.Data {
			if d.Index != i || len(d.Embedding) == 0 {
				return nil, fmt.Errorf("embeddings response from %s: bad or missing vector %d", url, i)
			}
			out[i] = d.Embedding
		}
		return out, nil
	}, 64)
}
