package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"ragtune/model"
)

func init() {
	model.RegisterFormat(model.Format{Name: "gguf", Magic: "GGUF", Open: OpenModel})
}

// Per-layer tensor names: GGUF suffix after "blk.N." and HF suffix after
// "model.layers.N.".
var layerNames = [][2]string{
	{"attn_norm.weight", "input_layernorm.weight"},
	{"attn_q.weight", "self_attn.q_proj.weight"},
	{"attn_k.weight", "self_attn.k_proj.weight"},
	{"attn_v.weight", "self_attn.v_proj.weight"},
	{"attn_q.bias", "self_attn.q_proj.bias"},
	{"attn_k.bias", "self_attn.k_proj.bias"},
	{"attn_v.bias", "self_attn.v_proj.bias"},
	{"attn_output.weight", "self_attn.o_proj.weight"},
	{"attn_output.bias", "self_attn.o_proj.bias"},
	{"ffn_norm.weight", "post_attention_layernorm.weight"},
	{"ffn_gate.weight", "mlp.gate_proj.weight"},
	{"ffn_up.weight", "mlp.up_proj.weight"},
	{"ffn_down.weight", "mlp.down_proj.weight"},
}

var globalNames = [][2]string{
	{"token_embd.weight", "model.embed_tokens.weight"},
	{"output_norm.weight", "model.norm.weight"},
	{"output.weight", "lm_head.weight"},
}

// HFName maps a llama.cpp tensor name to its Hugging Face name
// ("blk.3.attn_q.weight" → "model.layers.3.self_attn.q_proj.weight").
func HFName(name string) (string, bool) {
	for _, p := range globalNames {
		if name == p[0] {
			return p[1], true
		}
	}
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return "", false
	}
	num, suffix, ok := strings.Cut(rest, ".")
	if _, err := strconv.ParseUint(num, 10, 31); !ok || err != nil {
		return "", false
	}
	for _, p := range layerNames {
		if suffix == p[0] {
			return "model.layers." + num + "." + p[1], true
		}
	}
	return "", false
}

// GGUFName maps a Hugging Face tensor name to llama.cpp's.
func GGUFName(name string) (string, bool) {
	for _, p := range globalNames {
		if name == p[1] {
			return p[0], true
		}
	}
	rest, ok := strings.CutPrefix(name, "model.layers.")
	if !ok {
		return "", false
	}
	num, suffix, ok := strings.Cut(rest, ".")
	if _, err := strconv.ParseUint(num, 10, 31); !ok || err != nil {
		return "", false
	}
	for _, p := range layerNames {
		if suffix == p[1] {
			return "blk." + num + "." + p[0], true
		}
	}
	return "", false
}

// ConfigFromMetadata builds an HF config from a GGUF file's metadata and
// tensors (qwen2 and llama architectures).
func ConfigFromMetadata(f *File) (*model.Config, error) {
	arch, ok := f.String("general.architecture")
	if !ok {
		return nil, fmt.Errorf("GGUF %q has no general.architecture", f.Path)
	}
	c := &model.Config{ModelType: arch, HiddenAct: "silu", UseCache: true, InitializerRange: 0.02}
	switch arch {
	case "qwen2":
		c.Architectures = []string{"Qwen2ForCausalLM"}
		defer func() {
			// GGUF has no sliding-window keys (ragtune and llama.cpp run
			// Qwen2 with full attention); fill HF's fields so config.json
			// describes that.
			c.SlidingWindow, c.MaxWindowLayers = c.MaxPositionEmbeddings, c.NumHiddenLayers
		}()
	case "llama":
		c.Architectures = []string{"LlamaForCausalLM"}
	default:
		return nil, fmt.Errorf("GGUF %q: unknown architecture %q: ragtune runs qwen2 and llama models", f.Path, arch)
	}
	var missing []string
	req := func(key string) int {
		v, ok := f.Uint(arch + "." + key)
		if !ok {
			missing = append(missing, arch+"."+key)
		}
		return int(v)
	}
	c.NumHiddenLayers = req("block_count")
	c.HiddenSize = req("embedding_length")
	c.IntermediateSize = req("feed_forward_length")
	c.NumAttentionHeads = req("attention.head_count")
	c.MaxPositionEmbeddings = req("context_length")
	if len(missing) > 0 {
		return nil, fmt.Errorf("GGUF %q lacks required metadata %v", f.Path, missing)
	}
	c.NumKeyValueHeads = c.NumAttentionHeads
	if v, ok := f.Uint(arch + ".attention.head_count_kv"); ok {
		c.NumKeyValueHeads = int(v)
	}
	if v, ok := f.Uint(arch + ".attention.key_length"); ok && c.NumAttentionHeads > 0 && int(v) != c.HiddenSize/c.NumAttentionHeads {
		c.HeadDim = int(v)
	}
	c.RMSNormEps = 1e-6
	if v, ok := f.Float(arch + ".attention.layer_norm_rms_epsilon"); ok {
		// float32 storage turns 1e-6 into 9.99999997e-07; print the
		// shortest float32 decimal so config.json keeps "1e-06".
		c.RMSNormEps, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', -1, 32), 64)
	}
	c.RopeTheta = 10000
	if v, ok := f.Float(arch + ".rope.freq_base"); ok {
		c.RopeTheta, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', -1, 32), 64)
	}
	if c.ModelType == "llama" {
		bias := false
		if _, err := f.Tensor("blk.0.attn_q.bias"); err == nil {
			bias = true
		}
		c.AttentionBias = &bias
	}
	emb, err := f.Tensor("token_embd.weight")
	if err != nil {
		return nil, fmt.Errorf("GGUF %q: %w", f.Path, err)
	}
	if len(emb.Dims) != 2 {
		return nil, fmt.Errorf("GGUF %q: token_embd.weight has dims %v, want 2", f.Path, emb.Dims)
	}
	c.VocabSize = int(emb.Dims[1])
	if toks, ok := f.Metadata["tokenizer.ggml.tokens"].([]string); ok && len(toks) > c.VocabSize {
		c.VocabSize = len(toks)
	}
	if _, err := f.Tensor("output.weight"); err != nil {
		c.TieWordEmbeddings = true
	}
	if v, ok := f.Uint("tokenizer.ggml.bos_token_id"); ok {
		c.BOSTokenID = int(v)
	}
	if v, ok := f.Uint("tokenizer.ggml.eos_token_id"); ok {
		c.EOSTokenID = int(v)
	}
	c.TorchDtype = model.F32.TorchDtype()
	if n := floatTypeOf(f); n != "" {
		c.TorchDtype = n
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("GGUF %q metadata: %w", f.Path, err)
	}
	return c, nil
}

// floatTypeOf names the float type most matrices are stored in, so a BF16
// model converted to GGUF comes back as BF16 (norms are always F32 in GGUF).
func floatTypeOf(f *File) string {
	counts := map[model.DType]int{}
	for _, t := range f.Tensors {
		if len(t.Dims) == 2 {
			counts[t.Type]++
		}
	}
	best, bestN := "", 0
	for _, d := range []model.DType{model.F32, model.F16, model.BF16} {
		if counts[d] > bestN {
			best, bestN = d.TorchDtype(), counts[d]
		}
	}
	return best
}

// Source serves a GGUF file's tensors under Hugging Face names, with
// PyTorch shapes, so model code reads GGUF and safetensors alike. Tensors
// without an HF equivalent are listed under their GGUF names.
type Source struct {
	File   *File
	Config *model.Config
	hf     map[string]string // HF name → GGUF name
}

// OpenModel opens a GGUF model file as a model.TensorSource plus config.
func OpenModel(path string) (model.TensorSource, *model.Config, error) {
	s, err := OpenSource(path)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Config, nil
}

// OpenSource is OpenModel returning the concrete *Source (for metadata).
func OpenSource(path string) (*Source, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromMetadata(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return newSource(f, cfg), nil
}

func newSource(f *File, cfg *model.Config) *Source {
	s := &Source{File: f, Config: cfg, hf: map[string]string{}}
	for _, t := range f.Tensors {
		name, ok := HFName(t.Name)
		if !ok {
			name = t.Name
		}
		s.hf[name] = t.Name
	}
	return s
}

// Tensor returns a tensor by HF name. For llama models the q/k rows are
// put back in HF's order (llama.cpp's converter interleaves them), which
// costs a copy; other tensors are views into the mapped file.
func (s *Source) Tensor(name string) (*model.Tensor, error) {
	gname, ok := s.hf[name]
	if !ok {
		return nil, fmt.Errorf("GGUF %q: %w: %q", s.File.Path, model.ErrTensorNotFound, name)
	}
	ti, err := s.File.Tensor(gname)
	if err != nil {
		return nil, err
	}
	t := &model.Tensor{Name: name, DType: ti.Type, Shape: ti.Shape(), Data: ti.Data}
	if heads := permutedHeads(s.Config, name); heads > 0 {
		t.Data, err = permuteRows(ti.Data, t.Shape, heads, false)
		if err != nil {
			return nil, fmt.Errorf("GGUF %q: tensor %q: %w", s.File.Path, name, err)
		}
	}
	return t, nil
}

// permutedHeads returns the head count for tensors whose rows llama.cpp's
// llama converter permutes (q and k projections), else 0. Qwen2 is
// converted without the permutation: llama.cpp runs it with NEOX rope.
func permutedHeads(c *model.Config, hfName string) int {
	if c.ModelType != "llama" {
		return 0
	}
	switch {
	case strings.HasSuffix(hfName, "self_attn.q_proj.weight"), strings.HasSuffix(hfName, "self_attn.q_proj.bias"):
		return c.NumAttentionHeads
	case strings.HasSuffix(hfName, "self_attn.k_proj.weight"), strings.HasSuffix(hfName, "self_attn.k_proj.bias"):
		return c.NumKeyValueHeads
	}
	return 0
}

// permuteRows reorders the rows of a [rows, ...] tensor between HF's
// rotate-half order and llama.cpp's interleaved order. Within each head of
// hd rows, HF row j*hd/2+i is GGUF row 2*i+j. Rows are moved as whole
// byte runs, so any row-major storage type (quantized too) works.
func permuteRows(data []byte, shape []int, heads int, toGGUF bool) ([]byte, error) {
	if len(shape) == 0 || heads <= 0 || shape[0]%heads != 0 || (shape[0]/heads)%2 != 0 {
		return nil, fmt.Errorf("cannot permute shape %v over %d heads", shape, heads)
	}
	rows := shape[0]
	if len(data)%rows != 0 {
		return nil, fmt.Errorf("%d bytes do not split into %d rows", len(data), rows)
	}
	rb := len(data) / rows
	hd := rows / heads
	out := make([]byte, len(data))
	for h := 0; h < heads; h++ {
		for j := 0; j < 2; j++ {
			for i := 0; i < hd/2; i++ {
				hf := h*hd + j*hd/2 + i
				gg := h*hd + 2*i + j
				src, dst := gg, hf
				if toGGUF {
					src, dst = hf, gg
				}
				copy(out[dst*rb:(dst+1)*rb], data[src*rb:(src+1)*rb])
			}
		}
	}
	return out, nil
}

// Names lists the tensors by HF name, sorted.
func (s *Source) Names() []string {
	names := make([]string, 0, len(s.hf))
	for n := range s.hf {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close unmaps the file.
func (s *Source) Close() error { return s.File.Close() }

// KeepType as WriteOptions.Type writes every tensor in its source type.
const KeepType model.DType = math.MaxUint32

// WriteOptions controls WriteModel.
type WriteOptions struct {
	// Type for matrices (2-D tensors): F32, F16 or BF16, or KeepType.
	// Vectors (norms, biases) are always written as F32, as llama.cpp's
	// converter does.
	Type model.DType
	// Name goes into general.name.
	Name string
	// Tokenizer holds tokenizer.* keys (tokenizer.ggml.model, tokens,
	// merges, ...). When the model's vocab_size exceeds the token list, the
	// list is padded with "[PADn]" tokens of type UNUSED, as llama.cpp
	// requires one token per embedding row.
	Tokenizer map[string]any
	// Progress reports data bytes written and the total.
	Progress func(done, total int64)
}

// fileType is llama.cpp's general.file_type for a uniform tensor type.
func fileType(d model.DType) (uint32, bool) {
	switch d {
	case model.F32:
		return 0, true
	case model.F16:
		return 1, true
	case model.Q4_0:
		return 2, true
	case model.Q8_0:
		return 7, true
	case model.BF16:
		return 32, true
	}
	return 0, false
}

// tokenTypeUnused is llama.cpp's token type for padding entries.
const tokenTypeUnused = 5

// WriteModel writes src (tensors under HF names) as a GGUF file llama.cpp
// can load: architecture metadata from cfg, the tokenizer keys given, and
// every tensor the config implies, under llama.cpp names.
func WriteModel(path string, src model.TensorSource, cfg *model.Config, opts WriteOptions) error {
	if err := cfg.CheckArchitecture(); err != nil {
		return fmt.Errorf("write GGUF %q: %w", path, err)
	}
	if opts.Type != KeepType && opts.Type.ElementSize() == 0 {
		return fmt.Errorf("write GGUF %q: type %s: WriteModel converts to F32, F16 or BF16 (use 'ragtune quantize' for Q8_0/Q4_0)", path, opts.Type)
	}
	w := NewWriter(path)
	w.Progress = opts.Progress
	arch := cfg.ModelType
	var metaErrs []error
	add := func(k string, v any) {
		if err := w.AddMetadata(k, v); err != nil {
			metaErrs = append(metaErrs, err)
		}
	}
	add("general.architecture", arch)
	add("general.type", "model")
	if opts.Name != "" {
		add("general.name", opts.Name)
	}
	add(arch+".block_count", uint32(cfg.NumHiddenLayers))
	add(arch+".context_length", uint32(cfg.MaxPositionEmbeddings))
	add(arch+".embedding_length", uint32(cfg.HiddenSize))
	add(arch+".feed_forward_length", uint32(cfg.IntermediateSize))
	add(arch+".attention.head_count", uint32(cfg.NumAttentionHeads))
	add(arch+".attention.head_count_kv", uint32(cfg.NumKeyValueHeads))
	add(arch+".rope.freq_base", float32(cfg.RopeTheta))
	add(arch+".attention.layer_norm_rms_epsilon", float32(cfg.RMSNormEps))
	if hd := cfg.HeadDimension(); hd != cfg.HiddenSize/cfg.NumAttentionHeads {
		add(arch+".attention.key_length", uint32(hd))
		add(arch+".attention.value_length", uint32(hd))
	}
	if arch == "llama" {
		add(arch+".rope.dimension_count", uint32(cfg.HeadDimension()))
		add(arch+".vocab_size", uint32(cfg.VocabSize))
	}

	specs := model.ExpectedTensors(cfg)
	types := map[model.DType]bool{}
	type planned struct {
		spec   model.TensorSpec
		t      *model.Tensor
		target model.DType
	}
	var plan []planned
	for _, s := range specs {
		t, err := src.Tensor(s.Name)
		if err != nil {
			return fmt.Errorf("write GGUF %q: %w", path, err)
		}
		if !slices.Equal(t.Shape, s.Shape) {
			return fmt.Errorf("write GGUF %q: tensor %q has shape %v, config implies %v", path, s.Name, t.Shape, s.Shape)
		}
		target := opts.Type
		if target == KeepType {
			target = t.DType
		}
		if len(s.Shape) == 1 {
			target = model.F32
		}
		if target != t.DType && target.ElementSize() == 0 {
			return fmt.Errorf("write GGUF %q: tensor %q: cannot convert %s to %s here (quantizing is 'ragtune quantize')", path, s.Name, t.DType, target)
		}
		if len(s.Shape) == 2 {
			types[target] = true
		}
		plan = append(plan, planned{s, t, target})
	}
	if len(types) == 1 {
		for d := range types {
			if ft, ok := fileType(d); ok {
				add("general.file_type", ft)
			}
			if d == model.Q8_0 || d == model.Q4_0 {
				add("general.quantization_version", uint32(2))
			}
		}
	}
	if err := errors.Join(metaErrs...); err != nil {
		return fmt.Errorf("write GGUF %q: %w", path, err)
	}
	if err := addTokenizer(w, opts.Tokenizer, cfg.VocabSize); err != nil {
		return fmt.Errorf("write GGUF %q: %w", path, err)
	}
	for _, p := range plan {
		gname, _ := GGUFName(p.spec.Name)
		dims := make([]uint64, len(p.t.Shape))
		for i, s := range p.t.Shape {
			dims[len(dims)-1-i] = uint64(s)
		}
		t, target := p.t, p.target
		heads := permutedHeads(cfg, p.spec.Name)
		err := w.AddTensorFunc(gname, target, dims, func(out io.Writer) error {
			defer model.ReleasePages(src, t)
			if heads == 0 {
				return t.WriteAs(out, target)
			}
			// q/k projections are small next to the embeddings, so
			// converting them whole before permuting costs little.
			var buf bytes.Buffer
			if err := t.WriteAs(&buf, target); err != nil {
				return err
			}
			data, err := permuteRows(buf.Bytes(), t.Shape, heads, true)
			if err != nil {
				return err
			}
			_, err = out.Write(data)
			return err
		})
		if err != nil {
			return fmt.Errorf("write GGUF %q: %w", path, err)
		}
	}
	return w.Close()
}

// addTokenizer writes the tokenizer.* keys, normalizing Go ints to the
// types llama.cpp checks (token ids uint32, token types int32) and padding
// the vocabulary to vocabSize entries.
func addTokenizer(w *Writer, meta map[string]any, vocabSize int) error {
	if len(meta) == 0 {
		return nil
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if !strings.HasPrefix(k, "tokenizer.") {
			return fmt.Errorf("tokenizer metadata key %q does not start with \"tokenizer.\"", k)
		}
		keys = append(keys, k)
	}
	// llama.cpp's writer emits tokenizer.ggml.model first; then a stable
	// order keeps our files reproducible.
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := keys[i] == "tokenizer.ggml.model", keys[j] == "tokenizer.ggml.model"
		if pi != pj {
			return pi
		}
		return keys[i] < keys[j]
	})
	toks, _ := meta["tokenizer.ggml.tokens"].([]string)
	pad := 0
	if toks != nil && len(toks) < vocabSize {
		pad = vocabSize - len(toks)
	}
	for _, k := range keys {
		v := meta[k]
		switch {
		case strings.HasSuffix(k, "_token_id"):
			n, ok := asUint32(v)
			if !ok {
				return fmt.Errorf("tokenizer metadata %q: %v (%T) is not a token id", k, v, v)
			}
			v = n
		case k == "tokenizer.ggml.tokens" && pad > 0:
			padded := append(make([]string, 0, vocabSize), toks...)
			for i := len(toks); i < vocabSize; i++ {
				padded = append(padded, fmt.Sprintf("[PAD%d]", i))
			}
			v = padded
		case k == "tokenizer.ggml.token_type":
			tt, err := int32s(v)
			if err != nil {
				return fmt.Errorf("tokenizer metadata %q: %w", k, err)
			}
			for len(tt) < len(toks)+pad {
				tt = append(tt, tokenTypeUnused)
			}
			v = tt
		case k == "tokenizer.ggml.scores" && pad > 0:
			sc, ok := v.([]float32)
			if !ok {
				return fmt.Errorf("tokenizer metadata %q must be []float32, is %T", k, v)
			}
			v = append(append([]float32(nil), sc...), make([]float32, pad)...)
		}
		if err := w.AddMetadata(k, v); err != nil {
			return err
		}
	}
	return nil
}

func asUint32(v any) (uint32, bool) {
	switch x := v.(type) {
	case int:
		return uint32(x), x >= 0 && x <= math.MaxUint32
	case int32:
		return uint32(x), x >= 0
	case int64:
		return uint32(x), x >= 0 && x <= math.MaxUint32
	case uint32:
		return x, true
	case uint64:
		return uint32(x), x <= math.MaxUint32
	}
	return 0, false
}

func int32s(v any) ([]int32, error) {
	switch x := v.(type) {
	case []int32:
		return append([]int32(nil), x...), nil
	case []int:
		out := make([]int32, len(x))
		for i, e := range x {
			out[i] = int32(e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want []int32, got %T", v)
}

// ReleasePages implements model.PageReleaser.
func (s *Source) ReleasePages(t *model.Tensor) { s.File.ReleasePages(t.Data) }
