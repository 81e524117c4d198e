package qwen2

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"ragtune/gguf"
	"ragtune/quant"
	"ragtune/weights"
)

// HFName maps a llama.cpp tensor name to its Hugging Face name
// ("blk.3.attn_q.weight" → "model.layers.3.self_attn.q_proj.weight").
func HFName(name string) (string, bool) {
	return mapName(name, "blk.", "model.layers.", func(r tensorRow) string { return r.gguf }, func(r tensorRow) string { return r.hf })
}

// GGUFName maps a Hugging Face tensor name to llama.cpp's.
func GGUFName(name string) (string, bool) {
	return mapName(name, "model.layers.", "blk.", func(r tensorRow) string { return r.hf }, func(r tensorRow) string { return r.gguf })
}

// mapName translates name through the tensor table from one naming (from,
// whose per-layer names start with fromLayer+"N.") to the other.
func mapName(name, fromLayer, toLayer string, from, to func(tensorRow) string) (string, bool) {
	for _, r := range append([]tensorRow{embedRow}, tailRows...) {
		if name == from(r) {
			return to(r), true
		}
	}
	rest, ok := strings.CutPrefix(name, fromLayer)
	if !ok {
		return "", false
	}
	num, suffix, ok := strings.Cut(rest, ".")
	if _, err := strconv.ParseUint(num, 10, 31); !ok || err != nil {
		return "", false
	}
	for _, r := range layerRows {
		if suffix == from(r) {
			return toLayer + num + "." + to(r), true
		}
	}
	return "", false
}

// ConfigFromGGUF builds an HF config from a GGUF file's metadata and
// tensors (any family: see Family).
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	arch, ok := f.String("general.architecture")
	if !ok {
		return nil, fmt.Errorf("GGUF %q has no general.architecture", f.Path)
	}
	fam, err := FamilyOf(arch)
	if err != nil {
		return nil, fmt.Errorf("GGUF %q: %w", f.Path, err)
	}
	c := &Config{ModelType: arch, Architectures: []string{fam.Architecture}, HiddenAct: "silu", UseCache: true, InitializerRange: 0.02}
	if fam.SlidingWindowFields {
		defer func() {
			// GGUF has no sliding-window keys (ragtune and llama.cpp run
			// with full attention); fill HF's fields so config.json
			// describes that.
			c.SlidingWindow, c.MaxWindowLayers = c.MaxPositionEmbeddings, c.NumHiddenLayers
		}()
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
		c.RopeTheta = shortestF32(v)
	}
	if err := ropeScalingFromGGUF(f, c); err != nil {
		return nil, err
	}
	if !fam.QKVBias {
		// A family without bias by default says so in attention_bias
		// when its file has them.
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
	c.TorchDtype = weights.F32.TorchDtype()
	if n := floatTypeOf(f); n != "" {
		c.TorchDtype = n
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("GGUF %q metadata: %w", f.Path, err)
	}
	return c, nil
}

// ggufRopeScaling is where WriteGGUF records HF's rope_scaling as
// config.json has it, for converting the file back to HF exactly. For
// llama3, llama.cpp reads the frequency divisors from the rope_freqs.weight
// tensor and has no keys for the parameters they come from (its
// rope.scaling.* keys mean other schemes and would change what it runs);
// for yarn, llama.cpp's own keys (addRopeScaling) are written too, and these
// keep what they cannot say (mscale, DeepSeek's attn_factor).
const ggufRopeScaling = "ragtune.rope_scaling."

// ropeFreqsName is llama.cpp's tensor of RoPE frequency divisors.
const ropeFreqsName = "rope_freqs.weight"

// ropeScalingFromGGUF sets c's RoPE scaling from ragtune's keys, else from
// llama.cpp's YaRN keys, else (a llama.cpp-converted Llama 3) from
// rope_freqs.weight.
func ropeScalingFromGGUF(f *gguf.File, c *Config) error {
	if kind, ok := f.String(ggufRopeScaling + "type"); ok {
		r := &RopeScaling{RopeType: kind}
		float := func(key string) float64 {
			if v, ok := f.Metadata[ggufRopeScaling+key].(float64); ok {
				return v
			}
			v, _ := f.Float(ggufRopeScaling + key)
			return shortestF32(v)
		}
		r.Factor = float("factor")
		r.LowFreqFactor = float("low_freq_factor")
		r.HighFreqFactor = float("high_freq_factor")
		n, _ := f.Uint(ggufRopeScaling + "original_max_position_embeddings")
		r.OriginalMaxPositionEmbeddings = int(n)
		r.AttentionFactor = float("attention_factor")
		r.BetaFast, r.BetaSlow = float("beta_fast"), float("beta_slow")
		r.Mscale, r.MscaleAllDim = float("mscale"), float("mscale_all_dim")
		r.AttnFactor = float("attn_factor")
		if v, ok := f.Metadata[ggufRopeScaling+"truncate"].(bool); ok {
			r.Truncate = &v
		}
		c.RopeScaling = r
		return nil
	}
	arch := c.ModelType
	switch kind, _ := f.String(arch + ".rope.scaling.type"); kind {
	case "", "none":
	case "yarn":
		r, err := yarnFromGGUF(f, arch)
		if err != nil {
			return err
		}
		c.RopeScaling = r
		return nil
	default:
		// llama.cpp's linear scaling changes every position's rotation;
		// running without it would be silently wrong.
		return fmt.Errorf("GGUF %q: %s.rope.scaling.type %q is not supported (ragtune runs plain RoPE, YaRN and Llama 3's rope_freqs scaling)", f.Path, arch, kind)
	}
	ff, err := ropeFreqsFromGGUF(f)
	c.RopeFreqFactors = ff
	return err
}

// llama.cpp's YaRN metadata, under "<arch>.". Its attn_factor multiplies
// the YaRN scale 1+0.1·ln(factor) (llama.cpp's mscale), where HF's
// attention_factor replaces it. Newer converters also write
// yarn_attn_factor, from HF's attention_factor or DeepSeek's attn_factor
// alike (R1-0528-Qwen3's 0.878…), which llama.cpp's runtime overrides for
// YaRN: it is not read here either, so a converted R1-0528 runs with
// 1+0.1·ln 4 as in llama.cpp and HF. The beta keys are newer llama.cpp's,
// which reads them only for some architectures (the llama, qwen2 and
// qwen3 graphs run with 32 and 1); ragtune reads them as the model's.
const (
	ggufYaRNFactor   = ".rope.scaling.factor"
	ggufYaRNOrigCtx  = ".rope.scaling.original_context_length"
	ggufYaRNAttn     = ".rope.scaling.attn_factor"
	ggufYaRNBetaFast = ".rope.scaling.yarn_beta_fast"
	ggufYaRNBetaSlow = ".rope.scaling.yarn_beta_slow"
)

// yarnFromGGUF reads the YaRN scaling of a file converted by llama.cpp,
// as HF's rope_scaling that runs the same.
func yarnFromGGUF(f *gguf.File, arch string) (*RopeScaling, error) {
	r := &RopeScaling{RopeType: "yarn"}
	v, ok := f.Float(arch + ggufYaRNFactor)
	if !ok || v <= 0 {
		return nil, fmt.Errorf("GGUF %q: %s.rope.scaling.type \"yarn\" needs a positive %s%s; reconvert the model from its HF checkpoint", f.Path, arch, arch, ggufYaRNFactor)
	}
	r.Factor = shortestF32(v)
	if n, ok := f.Uint(arch + ggufYaRNOrigCtx); ok {
		r.OriginalMaxPositionEmbeddings = int(n)
	}
	if v, ok := f.Float(arch + ggufYaRNBetaFast); ok {
		r.BetaFast = shortestF32(v)
	}
	if v, ok := f.Float(arch + ggufYaRNBetaSlow); ok {
		r.BetaSlow = shortestF32(v)
	}
	if mul, ok := f.Float(arch + ggufYaRNAttn); ok && mul != 1 {
		r.AttentionFactor = mul * yarnMscale(r.Factor, 1)
	}
	return r, nil
}

// shortestF32 returns the shortest decimal of a float32-stored value, so
// 0.1 stored as float32 comes back as 0.1 in config.json.
func shortestF32(v float64) float64 {
	x, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', -1, 32), 64)
	return x
}

// addRopeScaling writes cfg's rope_scaling: ragtune's exact record and,
// for YaRN, the llama.cpp keys that make llama.cpp run what HF runs.
func addRopeScaling(add func(string, any), cfg *Config) {
	r := cfg.RopeScaling
	kind := r.Kind()
	if kind == "default" {
		return
	}
	add(ggufRopeScaling+"type", kind)
	// float64, so config.json comes back digit for digit.
	add(ggufRopeScaling+"factor", r.Factor)
	add(ggufRopeScaling+"original_max_position_embeddings", uint32(r.OriginalMaxPositionEmbeddings))
	optional := func(key string, v float64) {
		if v != 0 {
			add(ggufRopeScaling+key, v)
		}
	}
	optional("low_freq_factor", r.LowFreqFactor)
	optional("high_freq_factor", r.HighFreqFactor)
	if kind != "yarn" {
		return
	}
	optional("attention_factor", r.AttentionFactor)
	optional("beta_fast", r.BetaFast)
	optional("beta_slow", r.BetaSlow)
	optional("mscale", r.Mscale)
	optional("mscale_all_dim", r.MscaleAllDim)
	optional("attn_factor", r.AttnFactor)
	// truncate false and non-default betas have no effect in llama.cpp's
	// llama/qwen2/qwen3 graphs (it rounds the correction range outwards
	// and uses betas 32 and 1), so llama.cpp runs such a file as their
	// defaults; ragtune reads them back from its own record. No R1
	// distill sets them.
	if r.Truncate != nil {
		add(ggufRopeScaling+"truncate", *r.Truncate)
	}
	arch := cfg.ModelType
	add(arch+".rope.scaling.type", "yarn")
	add(arch+ggufYaRNFactor, float32(r.Factor))
	orig := r.OriginalMaxPositionEmbeddings
	if orig == 0 {
		orig = cfg.MaxPositionEmbeddings
	}
	add(arch+ggufYaRNOrigCtx, uint32(orig))
	if r.BetaFast != 0 {
		add(arch+ggufYaRNBetaFast, float32(r.BetaFast))
	}
	if r.BetaSlow != 0 {
		add(arch+ggufYaRNBetaSlow, float32(r.BetaSlow))
	}
	// llama.cpp scales by attn_factor·(1+0.1·ln factor); HF by
	// RopeAttentionFactor. DeepSeek's attn_factor is not written here:
	// HF ignores it, so the file runs as HF runs the config.
	if mul := cfg.RopeAttentionFactor() / yarnMscale(r.Factor, 1); mul != 1 {
		add(arch+ggufYaRNAttn, float32(mul))
	}
}

// ropeFreqsFromGGUF reads rope_freqs.weight (nil when absent).
func ropeFreqsFromGGUF(f *gguf.File) ([]float64, error) {
	ti, err := f.Tensor(ropeFreqsName)
	if err != nil {
		return nil, nil
	}
	t := &weights.Tensor{Name: ropeFreqsName, DType: ti.Type, Shape: ti.Shape(), Data: ti.Data}
	v, err := toF32(t)
	if err != nil {
		return nil, fmt.Errorf("GGUF %q: %w", f.Path, err)
	}
	ff := make([]float64, len(v))
	for i, x := range v {
		ff[i] = float64(x)
	}
	return ff, nil
}

// floatTypeOf names the float type most matrices are stored in, so a BF16
// model converted to GGUF comes back as BF16 (norms are always F32 in GGUF).
func floatTypeOf(f *gguf.File) string {
	counts := map[weights.DType]int{}
	for _, t := range f.Tensors {
		if len(t.Dims) == 2 {
			counts[t.Type]++
		}
	}
	best, bestN := "", 0
	for _, d := range []weights.DType{weights.F32, weights.F16, weights.BF16} {
		if counts[d] > bestN {
			best, bestN = d.TorchDtype(), counts[d]
		}
	}
	return best
}

// GGUFSource serves a GGUF file's tensors under Hugging Face names, with
// PyTorch shapes, so model code reads GGUF and safetensors alike. Tensors
// without an HF equivalent are listed under their GGUF names.
type GGUFSource struct {
	File   *gguf.File
	Config *Config
	hf     map[string]string // HF name → GGUF name
}

// OpenGGUF opens a GGUF model file as a weights.Source with the config its
// metadata describes. Open does the same for any format; this returns the
// concrete type, for callers that read the file's metadata.
func OpenGGUF(path string) (*GGUFSource, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ConfigFromGGUF(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return newGGUFSource(f, cfg), nil
}

func newGGUFSource(f *gguf.File, cfg *Config) *GGUFSource {
	s := &GGUFSource{File: f, Config: cfg, hf: map[string]string{}}
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
func (s *GGUFSource) Tensor(name string) (*weights.Tensor, error) {
	gname, ok := s.hf[name]
	if !ok {
		return nil, fmt.Errorf("GGUF %q: %w: %q", s.File.Path, weights.ErrNotFound, name)
	}
	ti, err := s.File.Tensor(gname)
	if err != nil {
		return nil, err
	}
	t := &weights.Tensor{Name: name, DType: ti.Type, Shape: ti.Shape(), Data: ti.Data}
	if heads := permutedHeads(s.Config, name); heads > 0 {
		t.Data, err = permuteRows(ti.Data, t.Shape, heads, false)
		if err != nil {
			return nil, fmt.Errorf("GGUF %q: tensor %q: %w", s.File.Path, name, err)
		}
		// The file's rows are read for good: a loaded 70B would otherwise
		// hold every q/k projection twice, mapped and permuted.
		s.File.ReleasePages(ti.Data)
	}
	return t, nil
}

// permutedHeads returns the head count for tensors whose rows llama.cpp's
// converter permutes (q and k projections of a PermuteQK family), else 0.
func permutedHeads(c *Config, hfName string) int {
	if f, err := c.Family(); err != nil || !f.PermuteQK {
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
func (s *GGUFSource) Names() []string {
	names := make([]string, 0, len(s.hf))
	for n := range s.hf {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close unmaps the file.
func (s *GGUFSource) Close() error { return s.File.Close() }

// KeepType as WriteOptions.Type writes every tensor in its source type.
const KeepType weights.DType = math.MaxUint32

// GGUFOptions controls WriteGGUF.
type GGUFOptions struct {
	// Type for matrices (2-D tensors): F32, F16 or BF16, or KeepType.
	// Vectors (norms, biases) are always written as F32, as llama.cpp's
	// converter does.
	Type weights.DType
	// Name goes into general.name.
	Name string
	// Tokenizer holds tokenizer.* keys (see gguf.Writer.AddTokenizer).
	Tokenizer map[string]any
	// Progress reports data bytes written and the total.
	Progress func(done, total int64)
	// FileType, when not 0, is written as general.file_type (llama_ftype)
	// with general.quantization_version 2: a K-quant mix's (Q4_K_M is 15),
	// which the tensor types alone do not name.
	FileType uint32
	// Metadata holds further keys to write (llama-quantize's
	// quantize.imatrix.*), in key order.
	Metadata map[string]any
}

// WriteGGUF writes src (tensors under HF names) as a GGUF file llama.cpp
// can load: architecture metadata from cfg, the tokenizer keys given, and
// every tensor the config implies, under llama.cpp names. Block-type
// sources (a Q8_0 GGUF) may be expanded to F32, F16 or BF16.
func WriteGGUF(path string, src weights.Source, cfg *Config, opts GGUFOptions) error {
	if err := cfg.CheckArchitecture(); err != nil {
		return fmt.Errorf("write GGUF %q: %w", path, err)
	}
	if opts.Type != KeepType && opts.Type.ElementSize() == 0 {
		return fmt.Errorf("write GGUF %q: type %s: WriteGGUF converts to F32, F16 or BF16 (use 'ragtune quantize' for Q8_0/Q4_0)", path, opts.Type)
	}
	w := gguf.NewWriter(path)
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
	if fam, _ := cfg.Family(); fam.GGUFVocabKeys {
		add(arch+".rope.dimension_count", uint32(cfg.HeadDimension()))
		add(arch+".vocab_size", uint32(cfg.VocabSize))
	}
	addRopeScaling(add, cfg)

	specs := Tensors(cfg)
	types := map[weights.DType]bool{}
	type planned struct {
		spec   TensorSpec
		t      *weights.Tensor // nil: asked of src while writing
		from   weights.DType
		target weights.DType
	}
	planner, lazy := src.(tensorPlanner)
	var plan []planned
	for _, s := range specs {
		var t *weights.Tensor
		var from weights.DType
		var shape []int
		var err error
		if lazy {
			from, shape, err = planner.PlanTensor(s.Name)
		} else if t, err = src.Tensor(s.Name); err == nil {
			from, shape = t.DType, t.Shape
		}
		if err != nil {
			return fmt.Errorf("write GGUF %q: %w", path, err)
		}
		if !slices.Equal(shape, s.Shape) {
			return fmt.Errorf("write GGUF %q: tensor %q has shape %v, config implies %v", path, s.Name, shape, s.Shape)
		}
		target := opts.Type
		if target == KeepType {
			target = from
		}
		if len(s.Shape) == 1 {
			target = weights.F32
		}
		if target != from && target.ElementSize() == 0 {
			return fmt.Errorf("write GGUF %q: tensor %q: cannot convert %s to %s here (quantizing is 'ragtune quantize')", path, s.Name, from, target)
		}
		if len(s.Shape) == 2 {
			types[target] = true
		}
		plan = append(plan, planned{s, t, from, target})
	}
	if opts.FileType != 0 {
		add("general.file_type", opts.FileType)
		add("general.quantization_version", uint32(2))
	} else if len(types) == 1 {
		for d := range types {
			if ft, ok := gguf.FileType(d); ok {
				add("general.file_type", ft)
			}
			if d == weights.Q8_0 || d == weights.Q4_0 {
				add("general.quantization_version", uint32(2))
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(opts.Metadata)) {
		add(k, opts.Metadata[k])
	}
	if err := errors.Join(metaErrs...); err != nil {
		return fmt.Errorf("write GGUF %q: %w", path, err)
	}
	if err := w.AddTokenizer(opts.Tokenizer, cfg.VocabSize); err != nil {
		return fmt.Errorf("write GGUF %q: %w", path, err)
	}
	if ff := cfg.ropeFreqFactors(); ff != nil {
		// llama.cpp's converter writes the divisors as rope_freqs.weight
		// (F32), which its llama graph applies to every layer's RoPE.
		v := make([]float32, len(ff))
		for i, x := range ff {
			v[i] = float32(x)
		}
		data, err := weights.EncodeFloat32(weights.F32, v)
		if err != nil {
			return fmt.Errorf("write GGUF %q: %w", path, err)
		}
		if err := w.AddTensor(ropeFreqsName, weights.F32, []uint64{uint64(len(v))}, data); err != nil {
			return fmt.Errorf("write GGUF %q: %w", path, err)
		}
	}
	for _, p := range plan {
		gname, _ := GGUFName(p.spec.Name)
		dims := make([]uint64, len(p.spec.Shape))
		for i, s := range p.spec.Shape {
			dims[len(dims)-1-i] = uint64(s)
		}
		t, target := p.t, p.target
		heads := permutedHeads(cfg, p.spec.Name)
		name, from := p.spec.Name, p.from
		err := w.AddTensorFunc(gname, target, dims, func(out io.Writer) error {
			if t == nil {
				var err error
				if t, err = src.Tensor(name); err != nil {
					return err
				}
				if t.DType != from || !slices.Equal(t.Shape, p.spec.Shape) {
					return fmt.Errorf("source gave %s %v, planned %s %v", t.DType, t.Shape, from, p.spec.Shape)
				}
			}
			defer weights.ReleasePages(src, t)
			if heads == 0 {
				return writeAsInSlabs(out, src, t, target, quantSlabBytes)
			}
			// q/k projections are small next to the embeddings, so
			// converting them whole before permuting costs little.
			var buf bytes.Buffer
			if err := quant.WriteAs(&buf, t, target); err != nil {
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

// tensorPlanner is a source whose Tensor does real work and allocates
// its result (a quantizing source): WriteGGUF lays the file out from
// PlanTensor and asks for each tensor only while writing it, so one
// produced tensor at a time is in memory, not the whole converted model
// (40 GB for a 70B in Q4_0).
type tensorPlanner interface {
	// PlanTensor returns the type and shape Tensor(name) will have.
	PlanTensor(name string) (weights.DType, []int, error)
}

// ReleasePages implements weights.PageReleaser.
func (s *GGUFSource) ReleasePages(t *weights.Tensor) { s.File.ReleasePages(t.Data) }
