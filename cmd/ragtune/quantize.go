package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ragtune/eval"
	"ragtune/internal/bytesize"
	"ragtune/internal/cli"
	"ragtune/internal/progress"
	"ragtune/llm"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tokenizer"
	"ragtune/train/data"
)

func init() {
	register(&command{
		name:    "quantize",
		summary: "write a quantized GGUF file (Q4_K_M, Q8_0, …) from a model",
		run:     runQuantize,
	})
}

const quantizeDescription = `
Quantizes a model (an HF directory or a GGUF file) into a GGUF file that
ragtune and llama.cpp both load. Blocks are written bit-for-bit as
llama.cpp's own quantizer writes them.

Types are llama.cpp's llama-quantize types, and each tensor gets the type
llama-quantize (without --imatrix) gives it, written byte for byte as it
writes it:
  q2_k, q3_k_s, q3_k_m (alias q3_k), q3_k_l, q4_k_s, q4_k_m (alias q4_k),
  q5_k_s, q5_k_m (alias q5_k), q6_k   the K-quant mixes: the named block
        type for most weights, more bits where they pay off (attn_v and
        ffn_down of the first, last and every third layer, attn_output in
        the q2_k/q3_k mixes), Q6_K for the output head;
  q8_0, q4_0  every 2-D weight in that type; q4_0's output head Q6_K;
  all   norms and biases (1-D) keep F32. Rows whose width is not a multiple
        of 256 fall back as llama-quantize does (Q4_K → Q5_0, Q5_K → Q5_1,
        Q6_K → Q8_0, Q2_K/Q3_K → Q4_0; F16 if not a multiple of 32).
--pure gives every weight the named type (narrow rows still fall back).

Q4_K_M is what Ollama's and most published GGUF files of the R1 distills
use: about 4.9 bits per weight.

Domain-calibrated quantization: --imatrix-data FILE first runs the model
over your own text (.txt/.md, or .json/.jsonl fine-tuning data as 'ragtune
train --data' reads it, conversations rendered with the model's chat
template) and collects an importance matrix as llama.cpp's llama-imatrix
does: per weight, the mean squared input of each column, over windows of
--imatrix-ctx tokens. The quantizer then weighs each weight's rounding error
by it, as llama-quantize --imatrix does, byte for byte. --imatrix-out saves
the matrix in llama-imatrix's imatrix.dat format; --imatrix FILE uses one
made by either tool. With --ppl-file, the report adds the perplexity of the
same type quantized without the matrix (keep that text apart from the
calibration text). llama.cpp reports its gains at 2-3 bits on large models; on a small model
the matrix may not pay off (docs/BENCHMARKS.md has a measurement).

INT8: "--type int8" is q8_0. Each block of 32 weights is stored as signed
8-bit integers with its own f16 scale, which is finer than per-channel INT8
(one scale per output row) at half a bit more per weight (8.5), and keeps a file
llama.cpp loads. Activations are quantized to the same int8 blocks as the
model runs, so matrix products are integer dot products.

Examples:
  ragtune quantize --model ./r1-1.5b --type q4_k_m --out r1-1.5b-q4_k_m.gguf
  ragtune quantize --model ./r1-1.5b --type q8_0 --out r1-1.5b-q8_0.gguf
  ragtune quantize --model r1-1.5b-f16.gguf --type q4_0 --out r1-1.5b-q4_0.gguf
  ragtune quantize --model ./r1-1.5b --type q3_k_m --out r1-q3.gguf \
      --imatrix-data domain.txt --imatrix-out domain.imatrix --ppl-file heldout.txt`

func runQuantize(args []string) error {
	fs := newFlagSet("quantize", "--model DIR|FILE.gguf --type q4_k_m|q8_0|… --out FILE.gguf", quantizeDescription)
	src := fs.String("model", "", "source model: an HF `DIR` or a .gguf file")
	typ := fs.String("type", "", "quantization `TYPE`: q2_k, q3_k_s, q3_k_m, q3_k_l, q4_0, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k or q8_0 (alias int8)")
	pure := fs.Bool("pure", false, "give every weight the --type block type, without llama-quantize's per-tensor mix rules")
	out := fs.String("out", "", "the GGUF `FILE` to write")
	pplFile := fs.String("ppl-file", "", "after writing, report the perplexity of the source and the quantized model on this text `FILE` (same command as 'ragtune eval perplexity')")
	pplWindow := fs.Int("ppl-window", 512, "perplexity window in tokens `N` for --ppl-file")
	force := fs.Bool("force", false, "overwrite an existing --out file")
	imatrixFile := fs.String("imatrix", "", "weigh the quantization by this importance matrix `FILE` (llama-imatrix's imatrix.dat format)")
	imatrixData := fs.String("imatrix-data", "", "collect an importance matrix on this domain text `FILE` first (.txt/.md, or .json/.jsonl training data)")
	imatrixOut := fs.String("imatrix-out", "", "save the matrix collected with --imatrix-data to `FILE` (llama-quantize --imatrix reads it)")
	imatrixCtx := fs.Int("imatrix-ctx", 512, "tokens per calibration window `N` (llama-imatrix -c)")
	imatrixChunks := fs.Int("imatrix-chunks", 0, "use at most `N` calibration windows (0: all; llama-imatrix --chunks)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *imatrixFile != "" && *imatrixData != "" {
		return usageErrorf("--imatrix and --imatrix-data exclude each other: use a saved matrix or collect a new one")
	}
	if *imatrixOut != "" && *imatrixData == "" {
		return usageErrorf("--imatrix-out saves the matrix --imatrix-data collects; add --imatrix-data FILE")
	}
	if *imatrixCtx < MinIMatrixCtx {
		return usageErrorf("--imatrix-ctx must be >= %d, not %d", MinIMatrixCtx, *imatrixCtx)
	}
	if *src == "" || *out == "" || *typ == "" {
		return usageErrorf("--model, --type and --out are required (see 'ragtune quantize --help')")
	}
	if *pplWindow < 2 {
		return usageErrorf("--ppl-window must be >= 2, not %d", *pplWindow)
	}
	// The output is checked before the work: a missing directory or an
	// existing file would otherwise fail (or be replaced) only at the end.
	if err := cli.OutputFile("--out", *out, *force); err != nil {
		return err
	}
	if strings.EqualFold(*typ, "int8") {
		*typ = "q8_0"
	}
	target, err := quant.ParseMix(*typ)
	if err != nil {
		return usageErrorf("--type: %v", err)
	}
	if err := cli.ModelPath(*src); err != nil {
		return err
	}
	var imx *quant.IMatrix
	switch {
	case *imatrixFile != "":
		if imx, err = quant.LoadIMatrix(*imatrixFile); err != nil {
			return err
		}
		fmt.Printf("importance matrix %s: %d entries, %d chunks\n", *imatrixFile, len(imx.Entries), imx.Chunks)
	case *imatrixData != "":
		if imx, err = collectIMatrix(*src, *imatrixData, *imatrixCtx, *imatrixChunks); err != nil {
			return err
		}
		if *imatrixOut != "" {
			if err := imx.Save(*imatrixOut); err != nil {
				return err
			}
			fmt.Printf("wrote importance matrix %s (%d entries)\n", *imatrixOut, len(imx.Entries))
		}
	}
	start := time.Now()
	imxFile := *imatrixFile
	if imxFile == "" {
		imxFile = *imatrixOut
	}
	if err := quantizeModel(*src, *out, target, *pure, imx, imxFile); err != nil {
		return err
	}
	inSize, outSize := bytesize.OfPath(*src), bytesize.OfPath(*out)
	fmt.Printf("wrote %s (%s) in %.1fs", *out, target, time.Since(start).Seconds())
	if inSize > 0 && outSize > 0 {
		fmt.Printf(": %s → %s (%.2f× smaller)", bytesize.Format(inSize), bytesize.Format(outSize), float64(inSize)/float64(outSize))
	}
	fmt.Println()
	if *pplFile != "" {
		var plain string
		if imx != nil {
			// The same type without the matrix, for the report's comparison.
			f, err := os.CreateTemp(filepath.Dir(*out), ".ragtune-no-imatrix-*.gguf")
			if err != nil {
				return fmt.Errorf("quantize without the importance matrix: %w", err)
			}
			plain = f.Name()
			f.Close()
			defer os.Remove(plain)
			if err := quantizeModel(*src, plain, target, *pure, nil, ""); err != nil {
				return err
			}
		}
		return eval.QuantizationReport(os.Stdout, *src, *out, plain, *pplFile, *pplWindow, inSize, outSize)
	}
	return nil
}

// MinIMatrixCtx is the smallest --imatrix-ctx: llama-imatrix collects
// nothing from passes shorter than quant.MinBatchTokens.
const MinIMatrixCtx = quant.MinBatchTokens

// collectIMatrix reads the calibration file, tokenizes it with the
// model's tokenizer and collects the importance matrix over it, showing
// progress on stderr.
func collectIMatrix(src, file string, ctx, chunks int) (*quant.IMatrix, error) {
	tok, tmpl, err := llm.Vocab(src)
	if err != nil {
		return nil, fmt.Errorf("--imatrix-data needs the model's tokenizer: %w", err)
	}
	var render data.Renderer
	if tmpl != nil {
		render = tmpl.Render
	}
	text, rendered, err := data.CalibrationText(file, render)
	if err != nil {
		return nil, fmt.Errorf("--imatrix-data: %w", err)
	}
	// Plain text is tokenized as llama-imatrix does (special-token text
	// stays text); rendered conversations need their turn markers.
	toks := tok.EncodeWith(text, tokenizer.EncodeOptions{AddSpecial: true, ParseSpecial: rendered})
	o := qwen2.IMatrixOptions{Context: ctx, Chunks: chunks, BOS: -1}
	if tok.AddsBOS() {
		o.BOS = tok.BOS()
	}
	n, err := qwen2.IMatrixWindows(len(toks), o)
	if err != nil {
		return nil, cli.Usagef("--imatrix-data %s: %v", file, err)
	}
	fmt.Fprintf(os.Stderr, "importance matrix: %d tokens of %s, %d windows of %d\n", len(toks), file, n, ctx)
	t0 := time.Now()
	w := progress.ForStderr()
	defer progress.Flush(w)
	o.Progress = func(done, total int) {
		fmt.Fprintf(w, "\rimportance matrix window %d/%d  %s", done, total, time.Since(t0).Round(time.Second))
		if done == total {
			fmt.Fprintln(w)
		}
	}
	return qwen2.CollectIMatrix(src, toks, file, o)
}

func quantizeModel(srcPath, out string, target quant.Mix, pure bool, imx *quant.IMatrix, imxFile string) error {
	progressOut := progress.ForStderr()
	defer progress.Flush(progressOut)
	return qwen2.Quantize(srcPath, out, qwen2.QuantizeOptions{
		Mix: target, Pure: pure, IMatrix: imx, IMatrixFile: imxFile,
		Tokenizer: func() (map[string]any, error) {
			md, warning, err := qwen2.TokenizerMetadata(srcPath)
			if warning != "" {
				fmt.Fprintf(os.Stderr, "ragtune: warning: %s\n", warning)
			}
			return md, err
		},
		Progress: func(total int64) func(int) {
			bar := progress.CountBar(progressOut, total, "quantizing to "+target.String())
			return func(n int) { bar.Add64(int64(n)) }
		},
	})
}
