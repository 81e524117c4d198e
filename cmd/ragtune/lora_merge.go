package main

import (
	"fmt"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/progress"
	"ragtune/train"
)

func init() {
	registerSub("lora", "merge", "merge a LoRA adapter into a model's weights", runLoraMerge)
}

func runLoraMerge(args []string) error {
	fs := newFlagSet("lora merge", "--model DIR|FILE.gguf --adapter DIR --out DIR", `
Merge a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors,
from 'ragtune train' or trained elsewhere with PEFT on the same model) into
the base weights: W' = W + scale·B·A for every adapted projection, scale =
lora_alpha/r (lora_alpha/sqrt(r) with use_rslora). The output is an HF
model directory in the base model's dtype with its tokenizer files, which
every ragtune command (and transformers) loads without the adapter.

Examples:
  ragtune lora merge --model ./r1-1.5b --adapter ./lora --out ./r1-1.5b-tuned
  ragtune lora merge --model r1-1.5b-f16.gguf --adapter ./peft-adapter --out ./merged`)
	modelPath := fs.String("model", "", "base model: an HF model `DIR` or a .gguf file")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR`")
	out := fs.String("out", "", "output model `DIR` (must not hold files unless --force)")
	force := fs.Bool("force", false, "write into an --out that already holds files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *adapter == "" || *out == "" {
		return usageErrorf("--model, --adapter and --out are required (see 'ragtune lora merge --help')")
	}
	if err := cli.OutputDir("--out", *out, *force); err != nil {
		return err
	}
	if err := cli.ModelPath(*modelPath); err != nil {
		return err
	}
	start := time.Now()
	if err := train.MergeLoRA(*modelPath, *adapter, *out, progress.ByteBar("writing merged weights")); err != nil {
		return err
	}
	fmt.Printf("merged %s into %s → %s in %.2fs\n", *adapter, *modelPath, *out, time.Since(start).Seconds())
	return nil
}
