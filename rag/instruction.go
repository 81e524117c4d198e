package rag

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// Query instructions: retrieval embedders trained with an instruction
// expect it before queries (never before passages). bge v1.5 models and
// Qwen3-Embedding document theirs; bge-m3 needs none.
const (
	BGEQueryInstructionZH = "为这个句子生成表示以用于检索相关文章："
	BGEQueryInstructionEN = "Represent this sentence for searching relevant passages: "
	Qwen3QueryInstruction = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
)

type queryKey struct{}

// asQuery marks ctx so an Embedder knows it is embedding search queries.
func asQuery(ctx context.Context) context.Context { return context.WithValue(ctx, queryKey{}, true) }

// IsQuery reports whether an Embedder called with ctx embeds queries (the
// Retriever's dense path) rather than passages.
func IsQuery(ctx context.Context) bool { v, _ := ctx.Value(queryKey{}).(bool); return v }

// QueryInstruction returns the instruction a retrieval embedder expects
// before queries: the "query" prompt of a sentence-transformers
// config_sentence_transformers.json when the model directory has one,
// else the documented instruction of the model family recognized in the
// directory or model name (bge-*-zh*, bge-*-en*, Qwen3-Embedding), else "".
func QueryInstruction(pathOrModel string) string {
	if pathOrModel == "" {
		return ""
	}
	if data, err := os.ReadFile(filepath.Join(pathOrModel, "config_sentence_transformers.json")); err == nil {
		var c struct {
			Prompts map[string]string `json:"prompts"`
		}
		if json.Unmarshal(data, &c) == nil {
			if p, ok := c.Prompts["query"]; ok {
				return p
			}
		}
	}
	name := strings.ToLower(filepath.Base(strings.TrimRight(pathOrModel, "/")))
	switch {
	case strings.Contains(name, "qwen3-embedding"):
		return Qwen3QueryInstruction
	case !strings.Contains(name, "bge") || strings.Contains(name, "bge-m3") || strings.Contains(name, "reranker"):
		return ""
	case strings.Contains(name, "-zh"):
		return BGEQueryInstructionZH
	case strings.Contains(name, "-en"):
		return BGEQueryInstructionEN
	}
	return ""
}

// WithQueryInstruction prefixes instruction to every text e embeds for a
// query (IsQuery); passages are embedded as they are.
func WithQueryInstruction(e Embedder, instruction string) Embedder {
	if instruction == "" {
		return e
	}
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		if !IsQuery(ctx) {
			return e(ctx, texts)
		}
		in := make([]string, len(texts))
		for i, t := range texts {
			in[i] = instruction + t
		}
		return e(ctx, in)
	}
}
