package qwen2

import (
	"errors"
	"fmt"
	"slices"

	"ragtune/weights"
)

// TensorSpec is a tensor a decoder model of a given config must have, with
// its PyTorch shape.
type TensorSpec struct {
	Name  string
	Shape []int
	// Kind drives initialization: "linear", "embedding", "norm" or "bias".
	Kind string
}

// dims are the sizes tensor shapes are made of.
type dims struct{ C, I, V, Q, KV, HD int } // hidden, MLP, vocab, q and k/v widths, head

// tensorRow is one entry of the family's tensor table.
type tensorRow struct {
	// hf and gguf are the Hugging Face and llama.cpp names; for a layer
	// row, what follows "model.layers.N." and "blk.N.".
	hf, gguf string
	kind     string
	shape    func(d dims) []int
	// has reports whether a config has the tensor; nil: every config.
	has func(c *Config) bool
}

func vec(n func(d dims) int) func(d dims) []int { return func(d dims) []int { return []int{n(d)} } }
func mat(r, c func(d dims) int) func(d dims) []int {
	return func(d dims) []int { return []int{r(d), c(d)} }
}

var (
	dC  = func(d dims) int { return d.C }
	dI  = func(d dims) int { return d.I }
	dV  = func(d dims) int { return d.V }
	dQ  = func(d dims) int { return d.Q }
	dKV = func(d dims) int { return d.KV }
	dHD = func(d dims) int { return d.HD }

	qkvBias = (*Config).HasQKVBias
	oBias   = (*Config).hasOBias
	qkNorm  = (*Config).HasQKNorm
	untied  = func(c *Config) bool { return !c.TieWordEmbeddings }
)

// The tensor table, in the order ragtune writes tensors: the embedding,
// every layer's rows, the final norm, the head. It is the one list of the
// family's weights: Tensors (loading, validation, init, saving, GGUF
// export, the training parameter layout) and the GGUF name mapping
// (HFName, GGUFName) are read from it.
var (
	embedRow  = tensorRow{"model.embed_tokens.weight", "token_embd.weight", "embedding", mat(dV, dC), nil}
	layerRows = []tensorRow{
		{"input_layernorm.weight", "attn_norm.weight", "norm", vec(dC), nil},
		{"self_attn.q_proj.weight", "attn_q.weight", "linear", mat(dQ, dC), nil},
		{"self_attn.k_proj.weight", "attn_k.weight", "linear", mat(dKV, dC), nil},
		{"self_attn.v_proj.weight", "attn_v.weight", "linear", mat(dKV, dC), nil},
		{"self_attn.q_proj.bias", "attn_q.bias", "bias", vec(dQ), qkvBias},
		{"self_attn.k_proj.bias", "attn_k.bias", "bias", vec(dKV), qkvBias},
		{"self_attn.v_proj.bias", "attn_v.bias", "bias", vec(dKV), qkvBias},
		{"self_attn.q_norm.weight", "attn_q_norm.weight", "norm", vec(dHD), qkNorm},
		{"self_attn.k_norm.weight", "attn_k_norm.weight", "norm", vec(dHD), qkNorm},
		{"self_attn.o_proj.weight", "attn_output.weight", "linear", mat(dC, dQ), nil},
		{"self_attn.o_proj.bias", "attn_output.bias", "bias", vec(dC), oBias},
		{"post_attention_layernorm.weight", "ffn_norm.weight", "norm", vec(dC), nil},
		{"mlp.gate_proj.weight", "ffn_gate.weight", "linear", mat(dI, dC), nil},
		{"mlp.up_proj.weight", "ffn_up.weight", "linear", mat(dI, dC), nil},
		{"mlp.down_proj.weight", "ffn_down.weight", "linear", mat(dC, dI), nil},
	}
	tailRows = []tensorRow{
		{"model.norm.weight", "output_norm.weight", "norm", vec(dC), nil},
		{"lm_head.weight", "output.weight", "linear", mat(dV, dC), untied},
	}
)

// LayerTensors lists one layer's tensors as Tensors does, named by what
// follows "model.layers.N." ("self_attn.q_proj.weight").
func LayerTensors(c *Config) []TensorSpec {
	d := c.dims()
	var specs []TensorSpec
	for _, r := range layerRows {
		if r.has == nil || r.has(c) {
			specs = append(specs, TensorSpec{r.hf, r.shape(d), r.kind})
		}
	}
	return specs
}

func (c *Config) dims() dims {
	hd := c.HeadDimension()
	return dims{C: c.HiddenSize, I: c.IntermediateSize, V: c.VocabSize, Q: c.NumAttentionHeads * hd, KV: c.NumKeyValueHeads * hd, HD: hd}
}

// Tensors lists every tensor of a decoder with this config, under its HF
// name with its PyTorch shape, in the table's order. lm_head is omitted
// when the embeddings are tied.
func Tensors(c *Config) []TensorSpec {
	d := c.dims()
	var specs []TensorSpec
	add := func(prefix string, r tensorRow) {
		if r.has == nil || r.has(c) {
			specs = append(specs, TensorSpec{prefix + r.hf, r.shape(d), r.kind})
		}
	}
	add("", embedRow)
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		for _, r := range layerRows {
			add(p, r)
		}
	}
	for _, r := range tailRows {
		add("", r)
	}
	return specs
}

// ValidateTensors checks that src holds every tensor the config implies,
// with the implied shape, so a mismatched checkpoint fails at load with
// the offending names rather than mid-forward.
func ValidateTensors(src weights.Source, c *Config) error {
	if err := c.CheckArchitecture(); err != nil {
		return err
	}
	var errs []error
	for _, s := range Tensors(c) {
		t, err := src.Tensor(s.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("missing tensor %q", s.Name))
			continue
		}
		if !slices.Equal(t.Shape, s.Shape) {
			errs = append(errs, fmt.Errorf("tensor %q has shape %v, config implies %v", s.Name, t.Shape, s.Shape))
		}
		if len(errs) >= 8 {
			errs = append(errs, errors.New("(further problems not listed)"))
			break
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("checkpoint does not match its config: %w", errors.Join(errs...))
	}
	return nil
}
