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
	"time"

	"ragtune/gguf"
	"ragtune/internal/cputime"
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
		text := mixedText(1 << 20)
		for name, tok := range vocabularies(q, text) {
			if err := writeVocabGGUF(filepath.Join(dir, name+"-vocab.gguf"), tok); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(dir, "mixed.txt"), []byte(text), 0o644)
	case "check":
		text, err := os.ReadFile(filepath.Join(dir, "mixed.txt"))
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(filepath.Join(dir, "llamacpp-r1.ids"))
		if err != nil {
			return err
		}
		want := parseIDs(string(raw))
		// Cold: a fresh tokenizer with an empty word cache; warm: again.
		fresh := tokenizer.R1FromQwen(q)
		start, c0 := time.Now(), cputime.Process()
		got := fresh.Encode(string(text), false)
		cold, coldCPU := time.Since(start), cputime.Process()-c0
		start, c0 = time.Now(), cputime.Process()
		const reps = 5
		for i := 0; i < reps; i++ {
			fresh.Encode(string(text), false)
		}
		warm, warmCPU := time.Since(start)/reps, (cputime.Process()-c0)/reps
		mb := float64(len(text)) / 1e6
		fmt.Printf("ragtune:   %d tokens; first pass %.2f MB/s wall, %.2f MB/cpu-s; repeated %.2f MB/s wall, %.2f MB/cpu-s\n",
			len(got), mb/cold.Seconds(), mb/coldCPU.Seconds(), mb/warm.Seconds(), mb/warmCPU.Seconds())
		if err := sameIDs("r1", r1, got, want); err != nil {
			return err
		}
		// The small vocabularies must also load and tokenize alike.
		for name, tok := range vocabularies(q, string(text)) {
			if name == "r1" {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(dir, "llamacpp-"+name+".ids"))
			if err != nil {
				return err
			}
			if err := sameIDs(name, tok, tok.Encode(string(text), false), parseIDs(string(raw))); err != nil {
				return err
			}
		}
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

// vocabularies are the tokenizers compared with llama.cpp: R1's, the
// built-in byte-level one, and one trained on part of the text.
func vocabularies(q *tokenizer.BPE, text string) map[string]*tokenizer.BPE {
	trained, err := tokenizer.TrainBPE([]string{text[:64<<10]}, 1000, tokenizer.R1SpecialTokens()...)
	if err != nil {
		panic(err) // fixed input
	}
	return map[string]*tokenizer.BPE{"r1": tokenizer.R1FromQwen(q), "bytes": tokenizer.ByteLevelR1(), "trained": trained}
}

func parseIDs(s string) []int {
	var ids []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			panic(fmt.Sprintf("bad id %q", f))
		}
		ids = append(ids, n)
	}
	return ids
}

func sameIDs(name string, tok *tokenizer.BPE, got, want []int) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: ragtune gives %d tokens, llama.cpp %d", name, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("%s: token %d differs: ragtune %d (%q), llama.cpp %d (%q)", name, i, got[i], tok.DecodeToken(got[i]), want[i], tok.DecodeToken(want[i]))
		}
	}
	fmt.Printf("%s: %d ids identical to llama.cpp's\n", name, len(got))
	return nil
}
