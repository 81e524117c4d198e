package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/progress"
	"ragtune/model/qwen2"
	"ragtune/weights"
)

func init() {
	registerSub("model", "convert", "convert an HF model directory to GGUF and back", runModelConvert)
}

func runModelConvert(args []string) error {
	fs := newFlagSet("model convert", "--model DIR|FILE.gguf --out FILE.gguf|DIR [--type keep|f32|f16|bf16]", `
Convert between an HF model directory (config.json, safetensors,
tokenizer.json) and a single GGUF file that llama.cpp and Ollama load.

HF → GGUF writes the qwen2 (or llama) architecture metadata, the tokenizer
vocabulary, merges, special ids and chat template from the directory's
tokenizer files, and every tensor under llama.cpp's names. Norms and biases
are stored as F32, as llama.cpp's own converter does.

GGUF → HF writes config.json, generation_config.json, model.safetensors
and, when the GGUF carries a vocabulary, tokenizer.json and
tokenizer_config.json rebuilt from it. Quantized GGUF tensors are expanded
to floats when package quant supports their type.

Examples:
  ragtune model convert --model ./r1-1.5b --out r1-1.5b-bf16.gguf
  ragtune model convert --model r1-1.5b-f16.gguf --out ./r1-1.5b-hf --type bf16`)
	src := fs.String("model", "", "source: an HF model `DIR` or a .gguf file")
	out := fs.String("out", "", "destination: a .gguf `FILE` (from a directory) or a directory (from a .gguf)")
	typ := fs.String("type", "keep", "tensor `TYPE` of the output: keep, f32, f16 or bf16")
	force := fs.Bool("force", false, "overwrite an existing --out")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *src == "" || *out == "" {
		return usageErrorf("--model and --out are required (see 'ragtune model convert --help')")
	}
	var target weights.DType
	keep := *typ == "keep"
	if !keep {
		d, err := weights.ParseDType(*typ)
		if err != nil || d.ElementSize() == 0 {
			return usageErrorf("--type %q: use keep, f32, f16 or bf16 (quantize with 'ragtune quantize')", *typ)
		}
		target = d
	}
	if err := cli.ModelPath(*src); err != nil {
		return err
	}
	st, err := os.Stat(*src)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	toGGUF := st.IsDir() || strings.HasSuffix(*src, ".safetensors")
	if toGGUF {
		err = cli.OutputFile("--out", *out, *force)
	} else {
		err = cli.OutputDir("--out", *out, *force)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	if toGGUF {
		if keep {
			target = qwen2.KeepType
		}
		err = qwen2.ConvertToGGUF(*src, *out, target, progress.ByteBar("writing GGUF"), os.Stderr)
	} else {
		if keep {
			target = qwen2.KeepDType
		}
		err = qwen2.ConvertToHF(*src, *out, target, progress.ByteBar("writing safetensors"), os.Stderr)
	}
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s in %.2fs\n", *out, time.Since(start).Seconds())
	return nil
}
