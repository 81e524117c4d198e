package llm

import (
	"context"
	"strings"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// BenchmarkChatSecondTurn measures what KV-cache reuse saves in a chat:
// the first turn carries a 1000-token document, the second asks a short
// follow-up. With reuse the second turn runs only its own tokens; without
// it, the whole conversation again. The model is a 25M-parameter Qwen2
// (hidden 512, 8 layers) with the byte-level R1 vocabulary, so each byte
// is a token.
//
//	go test ./llm -run '^$' -bench ChatSecondTurn -benchtime 5x
func BenchmarkChatSecondTurn(b *testing.B) {
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers = 512, 1536, 8
	cfg.NumAttentionHeads, cfg.NumKeyValueHeads = 8, 2
	dir := b.TempDir()
	if err := qwen2.Init(dir, cfg, 1, tokenizer.ByteLevelR1()); err != nil {
		b.Fatal(err)
	}
	ensureChatTemplate(b, dir)
	doc := strings.Repeat("The KV cache keeps keys and values. ", 28)[:1000]
	turn1 := []Message{{Role: "user", Content: doc + "\nSummarize."}}
	for _, reuse := range []bool{true, false} {
		name := "reuse"
		if !reuse {
			name = "no-reuse"
		}
		b.Run(name, func(b *testing.B) {
			l, err := LoadLocal(dir, LoadOptions{LocalOptions: LocalOptions{NoPrefixReuse: !reuse}})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			greedy := &Sampling{}
			var ran int
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r1, err := l.Generate(context.Background(), Request{Messages: turn1, MaxTokens: 16, Sampling: greedy}, nil)
				if err != nil {
					b.Fatal(err)
				}
				turn2 := append(append([]Message(nil), turn1...),
					Message{Role: "assistant", Content: r1.Text}, Message{Role: "user", Content: "And in one word?"})
				b.StartTimer()
				r2, err := l.Generate(context.Background(), Request{Messages: turn2, MaxTokens: 16, Sampling: greedy}, nil)
				if err != nil {
					b.Fatal(err)
				}
				ran += r2.PromptTokens - r2.CachedTokens
			}
			b.ReportMetric(float64(ran)/float64(b.N), "prefilled-tokens/op")
		})
	}
}
