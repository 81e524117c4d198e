package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"ragtune/internal/bytesize"
	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/weights"
	"sort"
	"strings"
	"time"

	"ragtune/tokenizer"
)

func init() {
	registerSub("model", "init", "write a new model directory with deterministic random weights", runModelInit)
}

func runModelInit(args []string) error {
	presets := make([]string, 0, len(qwen2.Presets))
	for n := range qwen2.Presets {
		presets = append(presets, n)
	}
	sort.Strings(presets)
	fs := newFlagSet("model init", "--out DIR [--preset NAME] [--hidden-size N --layers N ...] [--seed N] [--tokenizer FILE] [--dtype f32|bf16|f16]", `
Write a complete Hugging Face model directory (config.json,
generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) with deterministic random weights in the Qwen2,
Llama 3 or Qwen3 layout (--arch, or the preset's). The same preset and
seed give the same bytes on any machine.

Presets: `+strings.Join(presets, ", ")+`. "tiny" takes milliseconds and is meant for
tests; the R1-Distill shapes are for benchmarks (1.5B: about 3.5 GB in
BF16; 7B: about 15 GB).

--hidden-size, --intermediate-size, --layers, --heads, --kv-heads and
--max-position replace those sizes of the preset, for a custom shape (for
example a small model to pre-train from scratch). Each attention head gets
hidden-size/heads dimensions, which must be even (RoPE); --kv-heads must
divide --heads (fewer KV heads than heads is grouped-query attention).

Without --tokenizer the model gets a byte-level vocabulary (256 bytes plus
the family's special tokens: R1's for qwen2, R1's with Llama 3's
pre-tokenizer for llama, Qwen3's ChatML and <think> tokens for qwen3), so
it works on a fresh clone. With a
Qwen2.5 tokenizer.json, R1's special tokens are substituted; 'ragtune model
train-tokenizer' makes a vocabulary from your own texts.

Examples:
  ragtune model init --out tiny-model
  ragtune model init --preset tiny --arch qwen3 --out tiny-qwen3
  ragtune model init --preset r1-distill-qwen-1.5b --out bench-1.5b
  ragtune model init --preset tiny --hidden-size 128 --intermediate-size 384 --layers 3 \
      --heads 4 --kv-heads 2 --max-position 1024 --tokenizer my-tok --out small-model`)
	preset := fs.String("preset", "tiny", "model shape `NAME`: "+strings.Join(presets, ", "))
	arch := fs.String("arch", "", "architecture `NAME`: qwen2, llama or qwen3 (default: the preset's; with --preset tiny, the tiny shape of that architecture)")
	out := fs.String("out", "", "output `DIR` (created; must be empty unless --force)")
	seed := fs.Uint64("seed", 1, "random seed for the weights")
	tokPath := fs.String("tokenizer", "", "tokenizer.json `FILE` (or a directory holding one) to use instead of the byte-level vocabulary")
	dtype := fs.String("dtype", "", "weight `DTYPE`: f32, bf16 or f16 (default: the preset's, f32 for tiny, bf16 for the R1 shapes)")
	force := fs.Bool("force", false, "overwrite an existing model in --out")
	// Shape overrides: each flag replaces one size of the preset.
	over := func(name, usage string) *int { return fs.Int(name, 0, "override the preset's "+usage) }
	shape := []struct {
		flag  string
		val   *int
		field func(*qwen2.Config) *int
	}{
		{"hidden-size", over("hidden-size", "hidden size (hidden_size)"), func(c *qwen2.Config) *int { return &c.HiddenSize }},
		{"intermediate-size", over("intermediate-size", "MLP width (intermediate_size)"), func(c *qwen2.Config) *int { return &c.IntermediateSize }},
		{"layers", over("layers", "number of decoder layers (num_hidden_layers)"), func(c *qwen2.Config) *int { return &c.NumHiddenLayers }},
		{"heads", over("heads", "attention heads (num_attention_heads); must divide the hidden size"), func(c *qwen2.Config) *int { return &c.NumAttentionHeads }},
		{"kv-heads", over("kv-heads", "key/value heads (num_key_value_heads); must divide the heads"), func(c *qwen2.Config) *int { return &c.NumKeyValueHeads }},
		{"max-position", over("max-position", "longest context in tokens (max_position_embeddings)"), func(c *qwen2.Config) *int { return &c.MaxPositionEmbeddings }},
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (see 'ragtune model init --help')", fs.Arg(0))
	}
	if *out == "" {
		return usageErrorf("--out DIR is required")
	}
	cfg, err := qwen2.PresetFor(*preset, *arch)
	if err != nil {
		return usageErrorf("%v", err)
	}
	presetLayers := cfg.NumHiddenLayers
	for _, o := range shape {
		if !given[o.flag] {
			continue
		}
		// Zero would silently mean "the preset's"; say so instead.
		if *o.val <= 0 {
			return usageErrorf("--%s must be > 0 (got %d)", o.flag, *o.val)
		}
		*o.field(&cfg) = *o.val
	}
	// max_window_layers counts the layers below which attention is full
	// when sliding-window attention is on: a preset whose every layer is
	// full keeps that, and no shape counts more layers than it has. A
	// window longer than the context means nothing, so it shrinks with it.
	if cfg.MaxWindowLayers >= presetLayers || cfg.MaxWindowLayers > cfg.NumHiddenLayers {
		cfg.MaxWindowLayers = cfg.NumHiddenLayers
	}
	cfg.SlidingWindow = min(cfg.SlidingWindow, cfg.MaxPositionEmbeddings)
	if err := cfg.Validate(); err != nil {
		return usageErrorf("invalid model shape: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if *dtype != "" {
		d, err := weights.ParseDType(*dtype)
		if err != nil || d.ElementSize() == 0 {
			return usageErrorf("--dtype %q: use f32, bf16 or f16", *dtype)
		}
		cfg.TorchDtype = d.TorchDtype()
	}
	if !*force {
		if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
			return usageErrorf("%s is not empty: choose another --out or pass --force", *out)
		}
	}

	var bpe *tokenizer.BPE
	if *tokPath == "" {
		// Each family's byte-level vocabulary in its real format:
		// R1-Distill-Llama's special tokens with Llama 3's pre-tokenizer,
		// Qwen3's ChatML tokens, R1-Distill-Qwen's.
		switch cfg.ModelType {
		case "llama":
			bpe = tokenizer.ByteLevelLlama3R1()
		case "qwen3":
			bpe = tokenizer.ByteLevelQwen3()
		default:
			bpe = tokenizer.ByteLevelR1()
		}
	} else {
		if bpe, err = tokenizer.Load(*tokPath); err != nil {
			return err
		}
		if _, ok := bpe.TokenID("<｜begin▁of▁sentence｜>"); !ok {
			if _, isQwen := bpe.TokenID("<|endoftext|>"); isQwen && cfg.ModelType != "qwen3" {
				fmt.Fprintln(os.Stderr, "ragtune: substituting R1's special tokens into the Qwen tokenizer")
				bpe = tokenizer.R1FromQwen(bpe)
			}
		}
	}
	// A model directory without a chat template cannot chat; give R1
	// vocabularies R1's template and Qwen ones Qwen's, as the real models ship.
	if bpe.ChatTemplate == "" {
		if _, ok := bpe.TokenID("<｜Assistant｜>"); ok {
			bpe.ChatTemplate = chat.R1Template
		} else if _, ok := bpe.TokenID("<|im_start|>"); ok {
			bpe.ChatTemplate = chat.QwenTemplate
			if _, think := bpe.TokenID("<think>"); think {
				bpe.ChatTemplate = chat.Qwen3Template
			}
		}
	}
	tok, err := asModelTokenizer(bpe)
	if err != nil {
		return err
	}

	tiny := strings.HasPrefix(*preset, "tiny")
	opts := qwen2.InitOptions{Tokenizer: tok, KeepVocab: !tiny}
	if !tiny {
		// The same byte bar as model convert: periodic lines in a log.
		opts.Progress = convertProgress("writing weights")
	}
	start := time.Now()
	if err := qwen2.InitWith(*out, cfg, *seed, opts); err != nil {
		return err
	}
	written, err := qwen2.LoadConfig(*out)
	if err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(*out, "model.safetensors"))
	if err != nil {
		return err
	}
	var params int64
	for _, s := range qwen2.Tensors(written) {
		n := int64(1)
		for _, d := range s.Shape {
			n *= int64(d)
		}
		params += n
	}
	fmt.Printf("wrote %s: preset %s (hidden %d, %d layers, %d heads over %d KV heads), seed %d, %s params, %s, vocab %d (tokenizer %d), %s in %.2fs\n",
		*out, *preset, written.HiddenSize, written.NumHiddenLayers, written.NumAttentionHeads, written.NumKeyValueHeads,
		*seed, modelFmtCount(params), written.TorchDtype, written.VocabSize, bpe.VocabSize(),
		bytesize.Format(st.Size()), time.Since(start).Seconds())
	return nil
}

// asModelTokenizer checks that the tokenizer can write its files, which
// qwen2.Init needs.
func asModelTokenizer(tok any) (qwen2.Tokenizer, error) {
	t, ok := tok.(qwen2.Tokenizer)
	if !ok {
		return nil, fmt.Errorf("this build's tokenizer package cannot write tokenizer.json/tokenizer_config.json (needs WriteJSON and WriteConfig)")
	}
	return t, nil
}

func modelFmtCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
