package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"ragtune/gguf"
	"ragtune/internal/bytesize"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/tokenizer"
	"ragtune/weights"
)

func init() {
	register(&command{
		name:    "quantize",
		summary: "write a Q8_0 or Q4_0 GGUF file from a model",
		run:     runQuantize,
	})
}

const quantizeDescription = `
Quantizes a model (an HF directory or a GGUF file) into a GGUF file that
ragtune and llama.cpp both load. Blocks are written bit-for-bit as
llama.cpp's own quantizer writes them.

Tensor types follow llama.cpp's llama-quantize defaults for these types:
  q8_0  every 2-D weight Q8_0, token embeddings and output head included;
  q4_0  every 2-D weight Q4_0, token embeddings included, except the output
        head (or the tied embedding that serves as head), which is Q8_0:
        llama.cpp gives the head Q6_K, which ragtune does not implement,
        and falls back to Q8_0 itself for widths that Q6_K cannot take;
  both  norms and biases (1-D) F32. A 2-D weight whose width is not a
        multiple of 32 keeps its source type.

ragtune runs its own files and llama.cpp's: a llama-quantize Q4_0 file's
Q6_K head is read (and requantized to Q8_0 at load).

INT8: "--type int8" is q8_0. Each block of 32 weights is stored as signed
8-bit integers with its own f16 scale, which is finer than per-channel INT8
(one scale per output row) at half a bit more per weight (8.5), and keeps a file
llama.cpp loads. Activations are quantized to the same int8 blocks as the
model runs, so matrix products are integer dot products.

Examples:
  ragtune quantize --model ./r1-1.5b --type q8_0 --out r1-1.5b-q8_0.gguf
  ragtune quantize --model r1-1.5b-f16.gguf --type q4_0 --out r1-1.5b-q4_0.gguf`

func runQuantize(args []string) error {
	fs := newFlagSet("quantize", "--model DIR|FILE.gguf --type q8_0|q4_0 --out FILE.gguf", quantizeDescription)
	src := fs.String("model", "", "source model: an HF directory or a .gguf file")
	typ := fs.String("type", "", "q8_0 (alias int8) or q4_0")
	out := fs.String("out", "", "the GGUF file to write")
	pplFile := fs.String("ppl-file", "", "after writing, report the perplexity of the source and the quantized model on this text `FILE` (same command as 'ragtune eval perplexity')")
	pplWindow := fs.Int("ppl-window", 512, "perplexity window in tokens `N` for --ppl-file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *src == "" || *out == "" || *typ == "" {
		return usageErrorf("--model, --type and --out are required (see 'ragtune quantize --help')")
	}
	if strings.EqualFold(*typ, "int8") {
		*typ = "q8_0"
	}
	target, err := weights.ParseDType(*typ)
	if err != nil || (target != weights.Q8_0 && target != weights.Q4_0) {
		return usageErrorf("--type %q: use q8_0 (alias int8) or q4_0", *typ)
	}
	start := time.Now()
	if err := quantizeModel(*src, *out, target); err != nil {
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
	ppl := func(m string) (perplexityOutput, error) {
		var buf bytes.Buffer
		var o perplexityOutput
		if err := evalPerplexity([]string{"--model", m, "--file", file, "--window", strconv.Itoa(window), "--json"}, &buf, io.Discard); err != nil {
			return o, fmt.Errorf("perplexity of %s: %w", m, err)
		}
		err := json.Unmarshal(buf.Bytes(), &o)
		return o, err
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

// quantTypeFor is the tensor type policy described in quantizeDescription.
func quantTypeFor(target weights.DType, cfg *qwen2.Config, name string, shape []int) (weights.DType, bool) {
	if len(shape) != 2 || shape[1]%quant.BlockSize != 0 {
		return 0, false
	}
	isHead := name == "lm_head.weight" || (cfg.TieWordEmbeddings && name == "model.embed_tokens.weight")
	if isHead && target == weights.Q4_0 {
		return weights.Q8_0, true
	}
	return target, true
}

func quantizeModel(srcPath, out string, target weights.DType) error {
	src, cfg, err := qwen2.Open(srcPath)
	if err != nil {
		return err
	}
	defer src.Close()
	tok, err := tokenizerMetadata(srcPath)
	if err != nil {
		return err
	}
	specs := qwen2.Tensors(cfg)
	var total int64
	for _, s := range specs {
		if _, ok := quantTypeFor(target, cfg, s.Name, s.Shape); ok {
			n := int64(1)
			for _, d := range s.Shape {
				n *= int64(d)
			}
			total += n
		}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("quantizing to "+target.String()),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	)
	qs := &quantizingSource{Source: src, cfg: cfg, target: target, bar: bar}
	opts := qwen2.GGUFOptions{
		Type:      qwen2.KeepType,
		Name:      strings.TrimSuffix(filepath.Base(filepath.Clean(srcPath)), ".gguf"),
		Tokenizer: tok,
	}
	if err := qwen2.WriteGGUF(out, qs, cfg, opts); err != nil {
		return fmt.Errorf("quantize %q: %w", srcPath, err)
	}
	return nil
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

// quantizingSource hands qwen2.WriteGGUF each weight already quantized, so
// the writer copies the blocks as they are (it writes 1-D tensors as F32).
type quantizingSource struct {
	weights.Source
	cfg    *qwen2.Config
	target weights.DType
	bar    *progressbar.ProgressBar
}

func (q *quantizingSource) Tensor(name string) (*weights.Tensor, error) {
	t, err := q.Source.Tensor(name)
	if err != nil {
		return nil, err
	}
	to, ok := quantTypeFor(q.target, q.cfg, name, t.Shape)
	if !ok || to == t.DType {
		return t, nil
	}
	data, err := quantizeTensor(t, to, func(n int) { q.bar.Add64(int64(n)) })
	if err != nil {
		return nil, err
	}
	return &weights.Tensor{Name: t.Name, DType: to, Shape: t.Shape, Data: data}, nil
}

// quantizeTensor converts a 2-D tensor of any readable type to Q8_0/Q4_0,
// a few thousand rows at a time (both cores on each slab), so only the
// output and one float32 slab are in memory.
func quantizeTensor(t *weights.Tensor, to weights.DType, progress func(n int)) ([]byte, error) {
	rows, cols := t.Shape[0], t.Shape[1]
	rb, err := quant.RowBytes(to, cols)
	if err != nil {
		return nil, fmt.Errorf("quantize %q: %w", t.Name, err)
	}
	if rows == 0 {
		return nil, nil
	}
	if len(t.Data)%rows != 0 {
		return nil, fmt.Errorf("quantize %q: %d bytes do not split into %d rows", t.Name, len(t.Data), rows)
	}
	inRow := len(t.Data) / rows
	out := make([]byte, rows*rb)
	step := max(1, (4<<20)/cols)
	vals := make([]float32, min(step, rows)*cols)
	enc := quant.QuantizeQ8_0
	if to == weights.Q4_0 {
		enc = quant.QuantizeQ4_0
	}
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		sub := weights.Tensor{Name: t.Name, DType: t.DType, Shape: []int{(hi - lo) * cols}, Data: t.Data[lo*inRow : hi*inRow]}
		v := vals[:(hi-lo)*cols]
		if err := quant.Float32Into(&sub, v); err != nil {
			return nil, fmt.Errorf("quantize %q: %w", t.Name, err)
		}
		tensor.ParallelFor(hi-lo, func(a, b int) {
			enc(out[(lo+a)*rb:(lo+b)*rb], v[a*cols:b*cols])
		})
		progress((hi - lo) * cols)
	}
	return out, nil
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
