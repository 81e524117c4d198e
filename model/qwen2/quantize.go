package qwen2

import (
	"fmt"
	"path/filepath"
	"strings"

	"ragtune/quant"
	"ragtune/weights"
)

// MixModel is what quant.Mix's per-tensor rules need to know of this
// configuration.
func (c *Config) MixModel() quant.MixModel {
	return quant.MixModel{
		Layers: c.NumHiddenLayers, Heads: c.NumAttentionHeads, KVHeads: c.NumKeyValueHeads,
		Tied: c.TieWordEmbeddings,
		// llama.cpp's 70B class: 80 layers (Llama: with grouped KV heads).
		Is70B: c.NumHiddenLayers == 80 && (c.ModelType != "llama" || c.NumAttentionHeads != c.NumKeyValueHeads),
	}
}

// QuantType is the type llama-quantize gives the HF-named tensor in mix
// (quant.Mix.TensorType on its GGUF name), and false for tensors kept as
// they are (1-D tensors, norms, names outside the tensor table).
func (c *Config) QuantType(mix quant.Mix, pure bool, name string, shape []int) (weights.DType, bool) {
	gname, ok := GGUFName(name)
	if !ok {
		return 0, false
	}
	return mix.TensorType(c.MixModel(), gname, shape, pure)
}

// quantType is QuantType for a run with opts: an importance matrix
// changes some of llama-quantize's choices (quant.MixModel.IMatrix).
func (c *Config) quantType(opts QuantizeOptions, name string, shape []int) (weights.DType, bool) {
	gname, ok := GGUFName(name)
	if !ok {
		return 0, false
	}
	mm := c.MixModel()
	mm.IMatrix = opts.IMatrix != nil
	return opts.Mix.TensorType(mm, gname, shape, opts.Pure)
}

// QuantizeOptions tunes Quantize.
type QuantizeOptions struct {
	Mix  quant.Mix
	Pure bool // llama-quantize's --pure: the mix's default type for every weight
	// Tokenizer returns the tokenizer.* GGUF keys (llama.cpp refuses a file
	// without them); it is called once the model has opened, so a broken
	// model is reported before anything about its tokenizer.
	Tokenizer func() (map[string]any, error)
	// Progress, if not nil, is called once with the number of weight values
	// to quantize and returns the function told of each slab done.
	Progress func(total int64) func(n int)
	// IMatrix, if not nil, weighs the quantization error of every tensor
	// it has an entry for, as llama-quantize --imatrix does.
	IMatrix *quant.IMatrix
	// IMatrixFile names the matrix's file in the output's metadata
	// (quantize.imatrix.file), when it has one.
	IMatrixFile string
}

// Quantize writes the model at srcPath (an HF directory or a GGUF file) as
// a GGUF file with each weight in the type opts.Mix gives it, quantized as
// it is written, one tensor at a time.
func Quantize(srcPath, out string, opts QuantizeOptions) error {
	src, cfg, err := Open(srcPath)
	if err != nil {
		return err
	}
	defer src.Close()
	var tok map[string]any
	if opts.Tokenizer != nil {
		if tok, err = opts.Tokenizer(); err != nil {
			return err
		}
	}
	var total int64
	for _, s := range Tensors(cfg) {
		if _, ok := cfg.quantType(opts, s.Name, s.Shape); ok {
			n := int64(1)
			for _, d := range s.Shape {
				n *= int64(d)
			}
			total += n
		}
	}
	qs := &quantizingSource{Source: src, cfg: cfg, opts: opts, progress: func(int) {}}
	if opts.Progress != nil {
		qs.progress = opts.Progress(total)
	}
	g := GGUFOptions{
		Type:      KeepType,
		Name:      strings.TrimSuffix(filepath.Base(filepath.Clean(srcPath)), ".gguf"),
		Tokenizer: tok,
		FileType:  opts.Mix.FileType(),
		Metadata:  imatrixMetadata(opts),
	}
	if err := WriteGGUF(out, qs, cfg, g); err != nil {
		return fmt.Errorf("quantize %q: %w", srcPath, err)
	}
	return nil
}

// quantizingSource hands WriteGGUF each weight already quantized, so the
// writer copies the blocks as they are (it writes 1-D tensors as F32).
type quantizingSource struct {
	weights.Source
	cfg      *Config
	opts     QuantizeOptions
	progress func(n int)
}

func (q *quantizingSource) Tensor(name string) (*weights.Tensor, error) {
	t, err := q.Source.Tensor(name)
	if err != nil {
		return nil, err
	}
	to, ok := q.cfg.quantType(q.opts, name, t.Shape)
	if !ok || to == t.DType {
		return t, nil
	}
	var qw []float32
	if q.opts.IMatrix != nil && len(t.Shape) == 2 {
		gname, _ := GGUFName(name)
		if qw, err = q.opts.IMatrix.Weights(gname, t.Shape[1]); err != nil {
			return nil, err
		}
	}
	// Slab by slab, dropping the source's pages as it goes, or a 70B's
	// 141 GB of BF16 would stay in the resident set.
	data, err := quantizeInSlabs(q.Source, t, to, qw, q.progress, quantSlabBytes)
	if err != nil {
		return nil, err
	}
	return &weights.Tensor{Name: t.Name, DType: to, Shape: t.Shape, Data: data}, nil
}

// PlanTensor gives WriteGGUF the type Tensor will return without
// quantizing, so it quantizes each tensor only as it writes it.
func (q *quantizingSource) PlanTensor(name string) (weights.DType, []int, error) {
	t, err := q.Source.Tensor(name)
	if err != nil {
		return 0, nil, err
	}
	if to, ok := q.cfg.quantType(q.opts, name, t.Shape); ok {
		return to, t.Shape, nil
	}
	return t.DType, t.Shape, nil
}

// imatrixMetadata is what llama-quantize records of its importance matrix
// (names cut to 127 bytes as it cuts them).
func imatrixMetadata(opts QuantizeOptions) map[string]any {
	m := opts.IMatrix
	if m == nil {
		return nil
	}
	cut := func(s string) string { return s[:min(len(s), 127)] }
	md := map[string]any{"quantize.imatrix.entries_count": int32(len(m.Entries))}
	if opts.IMatrixFile != "" {
		md["quantize.imatrix.file"] = cut(opts.IMatrixFile)
	}
	if m.Dataset != "" {
		md["quantize.imatrix.dataset"] = cut(m.Dataset)
	}
	if m.Chunks > 0 {
		md["quantize.imatrix.chunks_count"] = m.Chunks
	}
	return md
}
