//go:build unix

package rag

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ragtune/model/bert"
	"ragtune/tokenizer"
)

// BenchmarkRerankBase measures one query's rerank latency with a
// cross-encoder of bge-reranker-base's encoder shape (hidden 768, 12
// layers, 12 heads, FFN 3072) and random weights: speed only, the scores
// mean nothing. Each candidate is a ~128-token passage with a ~10-token
// query, so a pair is ~140 tokens. docs/BENCHMARKS.md reports it.
//
//	go test -run - -bench RerankBase -benchtime 2x ./rag
func BenchmarkRerankBase(b *testing.B) {
	words := make([]string, 0, 1000)
	for i := range 1000 {
		words = append(words, fmt.Sprintf("w%03d", i))
	}
	vocab, err := tokenizer.NewWordPiece(append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, words...), tokenizer.DefaultWordPieceOptions())
	if err != nil {
		b.Fatal(err)
	}
	cfg := bert.Config{HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12, IntermediateSize: 3072,
		HiddenAct: "gelu", MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12}
	dir := filepath.Join(b.TempDir(), "ce-base")
	if err := bert.InitCrossEncoder(dir, cfg, 1, vocab, 1); err != nil {
		b.Fatal(err)
	}
	m, err := bert.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(ws, " ")
	}
	query := text(10)
	docs := make([]string, 50)
	for i := range docs {
		docs[i] = text(128)
	}
	score := CrossEncoderScorer(m)
	for _, depth := range []int{20, 50} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			// CPU time is reported beside wall time: on a shared machine
			// the wall figure mostly measures the other jobs.
			cpu0 := cpuSeconds()
			n := 0
			for b.Loop() {
				if _, err := score(context.Background(), query, docs[:depth]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric((cpuSeconds()-cpu0)/float64(n), "cpu-s/query")
		})
	}
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
