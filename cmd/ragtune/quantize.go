package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"ragtune/eval"
	"ragtune/gguf"
	"ragtune/internal/bytesize"
	"ragtune/internal/cli"
	"ragtune/internal/progress"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tokenizer"
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

INT8: "--type int8" is q8_0. Each block of 32 weights is stored as signed
8-bit integers with its own f16 scale, which is finer than per-channel INT8
(one scale per output row) at half a bit more per weight (8.5), and keeps a file
llama.cpp loads. Activations are quantized to the same int8 blocks as the
model runs, so matrix products are integer dot products.

Examples:
  ragtune quantize --model ./r1-1.5b --type q4_k_m --out r1-1.5b-q4_k_m.gguf
  ragtune quantize --model ./r1-1.5b --type q8_0 --out r1-1.5b-q8_0.gguf
  ragtune quantize --model r1-1.5b-f16.gguf --type q4_0 --out r1-1.5b-q4_0.gguf`

func runQuantize(args []string) error {
	fs := newFlagSet("quantize", "--model DIR|FILE.gguf --type q4_k_m|q8_0|… --out FILE.gguf", quantizeDescription)
	src := fs.String("model", "", "source model: an HF directory or a .gguf file")
	typ := fs.String("type", "", "q2_k, q3_k_s, q3_k_m, q3_k_l, q4_0, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k or q8_0 (alias int8)")
	pure := fs.Bool("pure", false, "give every weight the --type block type, without llama-quantize's per-tensor mix rules")
	out := fs.String("out", "", "the GGUF file to write")
	pplFile := fs.String("ppl-file", "", "after writing, report the perplexity of the source and the quantized model on this text `FILE` (same command as 'ragtune eval perplexity')")
	pplWindow := fs.Int("ppl-window", 512, "perplexity window in tokens `N` for --ppl-file")
	force := fs.Bool("force", false, "overwrite an existing --out file")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	start := time.Now()
	if err := quantizeModel(*src, *out, target, *pure); err != nil {
		return err
	}
	inSize, outSize := pathSize(*src), pathSize(*out)
	fmt.Printf("wrote %s (%s) in %.1fs", *out, target, time.Since(start).Seconds())
	if inSize > 0 && outSize > 0 {
		fmt.Printf(": %s → %s (%.2f× smaller)", bytesize.Format(inSize), bytesize.Format(outSize), float64(inSize)/float64(outSize))
	}
	fmt.Println()
	if *pplFile != "" {
		return quantizationReport(*src, *out, *pplFile, *pplWindow, inSize, outSize)
	}
	return nil
}

// quantizationReport measures what the quantization cost: perplexity of
// the source and of the quantized file on the same text, through the same
// code as 'ragtune eval perplexity'.
func quantizationReport(src, out, file string, window int, inSize, outSize int64) error {
	ppl := func(m string) (*eval.FilePerplexityResult, error) {
		o, err := measurePerplexity(m, "", file, window, max(1, window/2), io.Discard)
		if err != nil {
			return nil, fmt.Errorf("perplexity of %s: %w", m, err)
		}
		return o, nil
	}
	before, err := ppl(src)
	if err != nil {
		return err
	}
	after, err := ppl(out)
	if err != nil {
		return err
	}
	fmt.Printf("perplexity on %s (%d tokens, window %d): source %.4f → quantized %.4f (%+.2f%%); size %s → %s\n",
		file, before.Scored, before.Window, before.PPL, after.PPL, 100*(after.PPL/before.PPL-1), bytesize.Format(inSize), bytesize.Format(outSize))
	return nil
}

func quantizeModel(srcPath, out string, target quant.Mix, pure bool) error {
	progressOut := progress.ForStderr()
	defer progress.Flush(progressOut)
	return qwen2.Quantize(srcPath, out, qwen2.QuantizeOptions{
		Mix: target, Pure: pure,
		Tokenizer: func() (map[string]any, error) { return tokenizerMetadata(srcPath) },
		Progress: func(total int64) func(int) {
			bar := progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(progressOut),
				progressbar.OptionSetDescription("quantizing to "+target.String()),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(progressOut) }),
			)
			return func(n int) { bar.Add64(int64(n)) }
		},
	})
}

// tokenizerMetadata returns the tokenizer.* GGUF keys for the source: read
// from a GGUF file's metadata, or built from an HF directory's
// tokenizer.json. Without them llama.cpp refuses the file, so a missing
// tokenizer is a warning, not silence.
func tokenizerMetadata(srcPath string) (map[string]any, error) {
	st, err := os.Stat(srcPath)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if !st.IsDir() && strings.HasSuffix(srcPath, ".gguf") {
		f, err := gguf.Open(srcPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		md := map[string]any{}
		for k, v := range f.Metadata {
			if strings.HasPrefix(k, "tokenizer.") {
				md[k] = v
			}
		}
		if len(md) == 0 {
			fmt.Fprintf(os.Stderr, "ragtune: warning: %s has no tokenizer metadata; llama.cpp will not load the output\n", srcPath)
		}
		return md, nil
	}
	dir := srcPath
	if !st.IsDir() {
		dir = filepath.Dir(srcPath)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		fmt.Fprintf(os.Stderr, "ragtune: warning: %s has no tokenizer.json; llama.cpp will not load the output\n", dir)
		return nil, nil
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	return tok.GGUFMetadata(), nil
}

// pathSize is a file's size or the total of a directory's regular files
// (0 when unreadable: the size line is a courtesy).
func pathSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		return st.Size()
	}
	var n int64
	filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return nil // skip unreadable parts
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
