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
	"ragtune/llm"
	"ragtune/llm/chat"
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
	src := fs.String("model", "", "source model: an HF directory or a .gguf file")
	typ := fs.String("type", "", "q2_k, q3_k_s, q3_k_m, q3_k_l, q4_0, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k or q8_0 (alias int8)")
	pure := fs.Bool("pure", false, "give every weight the --type block type, without llama-quantize's per-tensor mix rules")
	out := fs.String("out", "", "the GGUF file to write")
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
	inSize, outSize := pathSize(*src), pathSize(*out)
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
		return quantizationReport(*src, *out, plain, *pplFile, *pplWindow, inSize, outSize)
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
	tok, tmpl, err := modelVocab(src)
	if err != nil {
		return nil, err
	}
	var render func([]data.Message, bool) (string, error)
	if tmpl != nil {
		render = tmpl.Render
	}
	text, rendered, err := calibrationText(file, render)
	if err != nil {
		return nil, err
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

// calibrationText is the text an importance matrix is collected on: a
// plain-text file as it is (any extension but .json/.jsonl), or the rows
// of training data read as 'ragtune train --data' reads them, documents as
// they are and conversations rendered with the model's chat template
// (render; chat.Plain without one), one after another. rendered reports
// whether it holds rendered conversations.
func calibrationText(file string, render func([]data.Message, bool) (string, error)) (text string, rendered bool, err error) {
	if ext := strings.ToLower(filepath.Ext(file)); ext != ".json" && ext != ".jsonl" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", false, fmt.Errorf("--imatrix-data: %w", err)
		}
		// llama-imatrix -f drops one final newline; so do we, so that
		// both tools see the same tokens.
		return strings.TrimSuffix(string(b), "\n"), false, nil
	}
	exs, _, err := data.ReadFile(file, false)
	if err != nil {
		return "", false, fmt.Errorf("--imatrix-data: %w", err)
	}
	var b strings.Builder
	for _, ex := range exs {
		t := ex.Text
		if len(ex.Messages) > 0 {
			rendered = true
			if render == nil {
				t = chat.Plain(ex.Messages, false)
			} else if t, err = render(ex.Messages, false); err != nil {
				return "", false, fmt.Errorf("--imatrix-data %s: render %s: %w", file, ex.Source, err)
			}
		}
		b.WriteString(t)
		b.WriteString("\n\n")
	}
	return b.String(), rendered, nil
}

// modelVocab is the model's tokenizer and chat template (nil when it has
// none): from a GGUF file's metadata or an HF directory's files.
func modelVocab(src string) (*tokenizer.BPE, *chat.Template, error) {
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		return llm.GGUFVocab(src)
	}
	tok, err := tokenizer.Load(src)
	if err != nil {
		return nil, nil, fmt.Errorf("--imatrix-data needs the model's tokenizer: %w", err)
	}
	tmpl, err := chat.LoadTemplate(src)
	if err != nil {
		tmpl = nil // plain text still calibrates; conversations fall back to chat.Plain
	}
	return tok, tmpl, nil
}

// quantizationReport measures what the quantization cost: perplexity of
// the source and of the quantized file on the same text, through the same
// code as 'ragtune eval perplexity'.
// plain, when not empty, is the same type quantized without the importance
// matrix.
func quantizationReport(src, out, plain, file string, window int, inSize, outSize int64) error {
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
	if plain == "" {
		return nil
	}
	without, err := ppl(plain)
	if err != nil {
		return err
	}
	fmt.Printf("  with the importance matrix %.4f (%+.2f%%), without it %.4f (%+.2f%%)\n",
		after.PPL, 100*(after.PPL/before.PPL-1), without.PPL, 100*(without.PPL/before.PPL-1))
	return nil
}

func quantizeModel(srcPath, out string, target quant.Mix, pure bool, imx *quant.IMatrix, imxFile string) error {
	progressOut := progress.ForStderr()
	defer progress.Flush(progressOut)
	return qwen2.Quantize(srcPath, out, qwen2.QuantizeOptions{
		Mix: target, Pure: pure, IMatrix: imx, IMatrixFile: imxFile,
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
