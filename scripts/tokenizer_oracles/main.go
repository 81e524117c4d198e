// Command tokenizer_oracles prepares and checks the comparisons of
// ragtune's tokenizer with other implementations. It is run by
// scripts/tokenizer_llamacpp.sh (llama.cpp: identical ids and speed) and
// scripts/tokenizer_hf_goldens.sh (Hugging Face tokenizers.js goldens).
//
//	go run ./scripts/tokenizer_oracles write DIR TOKENIZER_JSON   # DIR/r1-vocab.gguf, DIR/mixed.txt
//	go run ./scripts/tokenizer_oracles check DIR TOKENIZER_JSON   # compare DIR/llamacpp.ids, time Go
//	go run ./scripts/tokenizer_oracles hf DIR TOKENIZER_JSON      # DIR/tokenizer.json + tokenizer_config.json of R1
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ragtune/gguf"
	"ragtune/tokenizer"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: tokenizer_oracles write|check|hf DIR TOKENIZER_JSON")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "tokenizer_oracles:", err)
		os.Exit(1)
	}
}

func run(cmd, dir, tokPath string) error {
	q, err := tokenizer.Load(tokPath)
	if err != nil {
		return err
	}
	r1 := tokenizer.R1FromQwen(q)
	switch cmd {
	case "hf":
		if err := r1.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
			return err
		}
		return r1.WriteConfig(dir)
	case "write":
		if err := writeVocabGGUF(filepath.Join(dir, "r1-vocab.gguf"), r1); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "mixed.txt"), []byte(mixedText(1<<20)), 0o644)
	case "check":
		text, err := os.ReadFile(filepath.Join(dir, "mixed.txt"))
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(filepath.Join(dir, "llamacpp.ids"))
		if err != nil {
			return err
		}
		var want []int
		for _, f := range strings.Fields(string(raw)) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return err
			}
			want = append(want, n)
		}
		// Cold: a fresh tokenizer with an empty word cache; warm: again.
		fresh := tokenizer.R1FromQwen(q)
		start, c0 := time.Now(), cpuTime()
		got := fresh.Encode(string(text), false)
		cold, coldCPU := time.Since(start), cpuTime()-c0
		start, c0 = time.Now(), cpuTime()
		const reps = 5
		for i := 0; i < reps; i++ {
			fresh.Encode(string(text), false)
		}
		warm, warmCPU := time.Since(start)/reps, (cpuTime()-c0)/reps
		mb := float64(len(text)) / 1e6
		fmt.Printf("ragtune:   %d tokens; first pass %.2f MB/s wall, %.2f MB/cpu-s; repeated %.2f MB/s wall, %.2f MB/cpu-s\n",
			len(got), mb/cold.Seconds(), mb/coldCPU.Seconds(), mb/warm.Seconds(), mb/warmCPU.Seconds())
		if len(got) != len(want) {
			return fmt.Errorf("ragtune gives %d tokens, llama.cpp %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				return fmt.Errorf("token %d differs: ragtune %d (%q), llama.cpp %d (%q)", i, got[i], r1.DecodeToken(got[i]), want[i], r1.DecodeToken(want[i]))
			}
		}
		fmt.Println("ids identical to llama.cpp's on", len(text), "bytes")
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// writeVocabGGUF writes a vocabulary-only GGUF (no tensors) with R1's
// tokenizer as GGUFMetadata gives it, plus the architecture keys llama.cpp
// reads before the vocabulary.
func writeVocabGGUF(path string, tok *tokenizer.BPE) error {
	w := gguf.NewWriter(path)
	meta := []struct {
		k string
		v any
	}{
		{"general.architecture", "qwen2"},
		{"general.name", "ragtune-r1-vocab"},
		{"qwen2.context_length", uint32(4096)},
		{"qwen2.embedding_length", uint32(64)},
		{"qwen2.block_count", uint32(1)},
		{"qwen2.feed_forward_length", uint32(128)},
		{"qwen2.attention.head_count", uint32(4)},
		{"qwen2.attention.head_count_kv", uint32(2)},
		{"qwen2.rope.freq_base", float32(10000)},
		{"qwen2.attention.layer_norm_rms_epsilon", float32(1e-6)},
	}
	for _, m := range meta {
		if err := w.AddMetadata(m.k, m.v); err != nil {
			w.Abort()
			return err
		}
	}
	for k, v := range tok.GGUFMetadata() {
		if err := w.AddMetadata(k, v); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

// mixedText is Chinese/English text with numbers, punctuation, newlines
// and emoji, the same mix as the tokenizer package's benchmark.
func mixedText(n int) string {
	parts := []string{
		"检索增强生成（RAG）把外部知识库与大语言模型结合起来。", "The quick brown fox jumps over 13 lazy dogs. ",
		"模型在推理时先检索相关段落，然后生成答案。", "Fine-tuning with LoRA updates only low-rank adapters; ",
		"量化到 Q4_0 可以把内存占用降低约四倍！", "It's 2026, and we're testing tokenizers.\n\n",
		"深度学习", " 3.14159 ", "  indented code()\n", "ÉCOLE naïve café ", "🙂 emoji 👍🏽\n",
	}
	rng := rand.New(rand.NewPCG(7, 9))
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(parts[rng.IntN(len(parts))])
	}
	return sb.String()
}

// cpuTime is the process's user+system CPU time: on a shared machine
// throughput per CPU second is comparable across runs, wall time is not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
