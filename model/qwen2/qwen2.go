// Package qwen2 is the Qwen2 decoder family: Qwen2 (DeepSeek-R1-Distill-Qwen),
// Llama 3 (DeepSeek-R1-Distill-Llama: Llama 3 RoPE frequency scaling, no
// biases) and Qwen3 (DeepSeek-R1-0528-Qwen3: per-head q/k RMSNorm, head_dim
// from the config), which share one block: token embedding, N × (RMSNorm →
// GQA attention with RoPE → residual, RMSNorm → SwiGLU MLP → residual),
// final RMSNorm, LM head. Everything
// ragtune knows about the family is here, side by side: its config.json
// (Config, Family), its one tensor table (Tensors), the presets `ragtune
// model init` writes (Init), opening an HF directory, .safetensors or GGUF
// file (Open, with llama.cpp's names and metadata in gguf.go), saving and
// converting (SaveHF, WriteGGUF), and the forward pass with its KV cache.
//
// A Model holds immutable weights; a State holds one sequence's KV cache
// and activation buffers, allocated once (on first use), so prefill
// (State.Forward over many tokens) and decode (one token at a time) run
// without allocating buffers per token. A Batch runs one step over several
// States at once (continuous batching for a server): their tokens stacked
// into one activation panel, so each weight is read once per step. Projection weights are
// tensor.Matrix values, so quantized formats (package quant) run through
// WithMatrixLoader without this package knowing their layout.
//
// It is not a generation loop (sampling, stop strings and chat templates
// live in package llm) and not the training forward (package train).
package qwen2

import (
	"errors"
	"fmt"
	"runtime"
	"slices"

	"ragtune/tensor"
	"ragtune/weights"
)

// Model is a loaded Qwen2/Llama decoder. It is safe for concurrent use by
// several States.
type Model struct {
	cfg *Config
	src weights.Source // kept open: weights may view its memory

	dim, ffn int // hidden size (C), intermediate size (F)
	nHead    int // query heads (NH)
	nKV      int // key/value heads (NKV)
	headDim  int // (HD)
	vocab    int // (V)
	eps      float32
	chunk    int // prefill tokens per pass, bounds State's activation buffers
	layers   []layer

	embed RowReader     // (V, C)
	norm  []float32     // (C) final RMSNorm weight
	head  tensor.Matrix // (V, C) lm_head, or the embedding when tied
}

// layer is one decoder block. Biases are nil when the model has none.
type layer struct {
	attnNorm   []float32     // (C) input_layernorm
	wq         tensor.Matrix // (NH*HD, C)
	wk, wv     tensor.Matrix // (NKV*HD, C)
	bqv        [3][]float32  // q (NH*HD), k (NKV*HD), v (NKV*HD) biases
	wo         tensor.Matrix // (C, NH*HD)
	bo         []float32     // (C), Llama with attention_bias only
	qNorm      []float32     // (HD) per-head RMSNorm of q (Qwen3), else nil
	kNorm      []float32     // (HD) per-head RMSNorm of k (Qwen3), else nil
	mlpNorm    []float32     // (C) post_attention_layernorm
	wgate, wup tensor.Matrix // (F, C)
	wdown      tensor.Matrix // (C, F)
	// Fused projections (then wq/wk/wv, wgate/wup are nil): q, k and v
	// stacked (NH*HD + 2*NKV*HD, C), gate and up (2F, C), where the matrix
	// format can stack rows (see rowStacker).
	wqkv, wgu tensor.Matrix
}

// rowStacker is a matrix format that can stack matrices with the same
// columns into one (quant.Packed): the projections that read the same
// input then run as one MatMul, preparing the input once and splitting one
// larger op over the workers instead of three small ones.
type rowStacker interface {
	StackRows(others ...tensor.Matrix) (tensor.Matrix, bool)
}

// fuse stacks the layer's q/k/v and gate/up projections where their format
// allows it.
func (ly *layer) fuse() {
	fused := false
	if s, ok := ly.wq.(rowStacker); ok {
		if m, ok := s.StackRows(ly.wk, ly.wv); ok {
			ly.wqkv, ly.wq, ly.wk, ly.wv = m, nil, nil, nil
			fused = true
		}
	}
	if s, ok := ly.wgate.(rowStacker); ok {
		if m, ok := s.StackRows(ly.wup); ok {
			ly.wgu, ly.wgate, ly.wup = m, nil, nil
			fused = true
		}
	}
	if fused {
		// The separate matrices are garbage now (a layer's worth, 26 MB
		// at 1.5B Q4_0); collecting them before the next layer loads lets
		// its allocations reuse the memory, where the default GC pacing
		// would let the whole model's worth pile up (peak RSS 1.18× the
		// file instead of 1.05×). A cycle over large pointer-free buffers
		// takes well under a millisecond.
		runtime.GC()
	}
}

// Option changes how New and Load build a Model.
type Option func(*options)

type options struct {
	loader MatrixLoader
	chunk  int
}

// WithMatrixLoader sets how the embedding, projection and head weights
// become matrices (default DefaultMatrix). Use F32Matrix to widen BF16/F16
// weights once at load, or a quantization package's loader for Q8_0/Q4_0.
func WithMatrixLoader(l MatrixLoader) Option {
	return func(o *options) { o.loader = l }
}

// WithPrefillChunk sets how many tokens one pass of Forward processes
// (default 128). Larger chunks reuse each weight over more tokens but make
// every State's activation buffers larger.
func WithPrefillChunk(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.chunk = n
		}
	}
}

// New builds a Model from a config and its tensors, checking every shape
// against the config. The Model owns src from here on and closes it in
// Close (also when New fails).
func New(cfg *Config, src weights.Source, opts ...Option) (m *Model, err error) {
	defer func() {
		if err != nil {
			src.Close()
		}
	}()
	o := options{chunk: 128}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.CheckArchitecture(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model config: %w", err)
	}
	if act := cfg.HiddenAct; act != "" && act != "silu" {
		return nil, fmt.Errorf("hidden_act %q is not supported (only silu)", act)
	}
	m = &Model{
		cfg: cfg, src: src,
		dim: cfg.HiddenSize, ffn: cfg.IntermediateSize,
		nHead: cfg.NumAttentionHeads, nKV: cfg.NumKeyValueHeads, headDim: cfg.HeadDimension(),
		vocab: cfg.VocabSize, eps: float32(cfg.RMSNormEps), chunk: o.chunk,
	}
	l := loader{src: src, matrix: o.loader}
	if l.matrix == nil {
		l.matrix = DefaultMatrix
	}
	C, QD, KVD := m.dim, m.nHead*m.headDim, m.nKV*m.headDim

	embed, err := l.get("model.embed_tokens.weight", m.vocab, C)
	if err != nil {
		return nil, err
	}
	// The embedding table serves row lookups and, when tied, the head, so
	// both share one copy whatever the loader keeps (float32, BF16, Q8_0).
	embedMat, err := l.matrix(embed)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", embed.Name, err)
	}
	weights.ReleasePages(src, embed)
	switch e := embedMat.(type) {
	case RowReader:
		m.embed = e
	case *tensor.F32Matrix:
		m.embed = f32Rows{data: e.Data, C: C}
	default:
		return nil, fmt.Errorf("tensor %q: the embedding table's matrix type %T cannot read rows (it needs a Row method)", embed.Name, embedMat)
	}

	m.norm, err = l.vector("model.norm.weight", C)
	if err != nil {
		return nil, err
	}
	if _, err := src.Tensor("lm_head.weight"); cfg.TieWordEmbeddings || errors.Is(err, weights.ErrNotFound) {
		// Tied head, or a file that omits it (llama.cpp's converter does
		// when it equals the embedding): the head reuses the embedding.
		m.head = embedMat
	} else if m.head, err = l.mat("lm_head.weight", m.vocab, C); err != nil {
		return nil, err
	}

	bias, oBias := cfg.HasQKVBias(), cfg.hasOBias()
	m.layers = make([]layer, cfg.NumHiddenLayers)
	for i := range m.layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		ly := &m.layers[i]
		if ly.attnNorm, err = l.vector(p+"input_layernorm.weight", C); err != nil {
			return nil, err
		}
		if ly.mlpNorm, err = l.vector(p+"post_attention_layernorm.weight", C); err != nil {
			return nil, err
		}
		for _, w := range []struct {
			dst    *tensor.Matrix
			name   string
			rows   int
			cols   int
			biasIx int
		}{
			{&ly.wq, "self_attn.q_proj", QD, C, 0},
			{&ly.wk, "self_attn.k_proj", KVD, C, 1},
			{&ly.wv, "self_attn.v_proj", KVD, C, 2},
			{&ly.wo, "self_attn.o_proj", C, QD, -1},
			{&ly.wgate, "mlp.gate_proj", m.ffn, C, -1},
			{&ly.wup, "mlp.up_proj", m.ffn, C, -1},
			{&ly.wdown, "mlp.down_proj", C, m.ffn, -1},
		} {
			if *w.dst, err = l.mat(p+w.name+".weight", w.rows, w.cols); err != nil {
				return nil, err
			}
			if bias && w.biasIx >= 0 {
				if ly.bqv[w.biasIx], err = l.vector(p+w.name+".bias", w.rows); err != nil {
					return nil, err
				}
			}
		}
		ly.fuse()
		if cfg.HasQKNorm() {
			if ly.qNorm, err = l.vector(p+"self_attn.q_norm.weight", m.headDim); err != nil {
				return nil, err
			}
			if ly.kNorm, err = l.vector(p+"self_attn.k_norm.weight", m.headDim); err != nil {
				return nil, err
			}
		}
		if oBias {
			if ly.bo, err = l.vector(p+"self_attn.o_proj.bias", C); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Config returns the model's configuration (do not modify it).
func (m *Model) Config() *Config { return m.cfg }

// VocabSize is the length of a logits vector.
func (m *Model) VocabSize() int { return m.vocab }

// MaxContext is the longest sequence the model was configured for
// (max_position_embeddings).
func (m *Model) MaxContext() int { return m.cfg.MaxPositionEmbeddings }

// Close releases the tensor source; the Model and its States must not be
// used afterwards.
func (m *Model) Close() error {
	if m.src == nil {
		return nil
	}
	err := m.src.Close()
	m.src = nil
	return err
}

// loader fetches tensors by HF name and checks shapes against the config.
type loader struct {
	src    weights.Source
	matrix MatrixLoader
}

func (l loader) get(name string, shape ...int) (*weights.Tensor, error) {
	t, err := l.src.Tensor(name)
	if err != nil {
		return nil, fmt.Errorf("model weights: %w", err)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("tensor %q has shape %v but config.json implies %v; the config does not match the weights", name, t.Shape, shape)
	}
	return t, nil
}

func (l loader) vector(name string, n int) ([]float32, error) {
	t, err := l.get(name, n)
	if err != nil {
		return nil, err
	}
	return toF32(t)
}

func (l loader) mat(name string, rows, cols int) (tensor.Matrix, error) {
	t, err := l.get(name, rows, cols)
	if err != nil {
		return nil, err
	}
	mat, err := l.matrix(t)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	// Matrix loaders copy (or repack) the weights into the heap, so the
	// mapped file pages can leave the resident set now: peak memory stays
	// near one copy of the weights. A loader that keeps the mapping in place
	// only pays for faulting those pages back in on first use.
	weights.ReleasePages(l.src, t)
	if mat.Rows() != rows || mat.Cols() != cols {
		return nil, fmt.Errorf("tensor %q: matrix loader returned %d×%d, want %d×%d", name, mat.Rows(), mat.Cols(), rows, cols)
	}
	return mat, nil
}
