package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"ragtune/internal/bytesize"
	"ragtune/internal/cli"
	"ragtune/internal/progress"
	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/weights"
	"strings"
	"time"

	"ragtune/tokenizer"
)

func init() {
	registerSub("model", "init", "write a new model directory with deterministic random weights", runModelInit)
}

func runModelInit(args []string) error {
	presets := qwen2.PresetNames()
	fs := newFlagSet("model init", "--out DIR [--preset NAME] [--hidden-size N --layers N ...] [--seed N] [--tokenizer FILE] [--dtype f32|bf16|f16]", `
Write a complete Hugging Face model directory (config.json,
generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) with deterministic random weights in the Qwen2,
Llama 3 or Qwen3 layout (--arch, or the preset's). The same preset and
seed give the same bytes on any machine.

`+cli.Wrap("Presets: "+strings.Join(presets, ", ")+`. "tiny" takes milliseconds and is meant for
tests; the R1-Distill shapes are for benchmarks (1.5B: about 3.5 GB in
BF16; 7B: about 15 GB).`, 74, "")+`

--hidden-size, --intermediate-size, --layers, --heads, --kv-heads and
--max-position replace those sizes of the preset, for a custom shape (for
example a small model to pre-train from scratch). Each attention head gets
hidden-size/heads dimensions, which must be even (RoPE); --kv-heads must
divide --heads (fewer KV heads than heads is grouped-query attention).

Without --tokenizer the model gets a byte-level vocabulary (256 bytes plus
the family's special tokens: R1's for qwen2, R1's with Llama 3's
pre-tokenizer for llama, Qwen3's ChatML and <think> tokens for qwen3), so
it works on a fresh clone. With a
Qwen2.5 tokenizer.json (qwen2), or Meta's Llama 3 one (llama), the R1
distill's special tokens are substituted at its ids; 'ragtune model
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
	var sh qwen2.Shape
	shape := []struct {
		flag, usage string
		val         *int
	}{
		{"hidden-size", "hidden size (hidden_size)", &sh.HiddenSize},
		{"intermediate-size", "MLP width (intermediate_size)", &sh.IntermediateSize},
		{"layers", "number of decoder layers (num_hidden_layers)", &sh.Layers},
		{"heads", "attention heads (num_attention_heads); must divide the hidden size", &sh.Heads},
		{"kv-heads", "key/value heads (num_key_value_heads); must divide the heads", &sh.KVHeads},
		{"max-position", "longest context in tokens (max_position_embeddings)", &sh.MaxPosition},
	}
	for _, o := range shape {
		fs.IntVar(o.val, o.flag, 0, "override the preset's "+o.usage)
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
	for _, o := range shape {
		// Zero would silently mean "the preset's"; say so instead.
		if given[o.flag] && *o.val <= 0 {
			return usageErrorf("--%s must be > 0 (got %d)", o.flag, *o.val)
		}
	}
	if err := cfg.Reshape(sh); err != nil {
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

	bpe, substituted, err := tokenizer.ForNewModel(*tokPath, cfg.ModelType)
	if err != nil {
		return err
	}
	if substituted {
		fmt.Fprintln(os.Stderr, "ragtune: substituting R1's special tokens into the tokenizer (as the R1 distill of this architecture ships it)")
	}
	// A model directory without a chat template cannot chat; give each
	// vocabulary the template its real models ship with.
	if bpe.ChatTemplate == "" {
		bpe.ChatTemplate = chat.TemplateForVocab(bpe)
	}

	tiny := strings.HasPrefix(*preset, "tiny")
	opts := qwen2.InitOptions{Tokenizer: bpe, KeepVocab: !tiny}
	if !tiny {
		// The same byte bar as model convert: periodic lines in a log.
		opts.Progress = progress.ByteBar("writing weights")
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
	params := qwen2.NumParams(written)
	fmt.Printf("wrote %s: preset %s (hidden %d, %d layers, %d heads over %d KV heads), seed %d, %s params, %s, vocab %d (tokenizer %d), %s in %.2fs\n",
		*out, *preset, written.HiddenSize, written.NumHiddenLayers, written.NumAttentionHeads, written.NumKeyValueHeads,
		*seed, weights.FormatCount(params), written.TorchDtype, written.VocabSize, bpe.VocabSize(),
		bytesize.Format(st.Size()), time.Since(start).Seconds())
	return nil
}
