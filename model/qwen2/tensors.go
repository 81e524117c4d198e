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

// Architectures ragtune runs. Llama-style configs share the Qwen2 layout
// (without q/k/v bias unless attention_bias says so).
var supportedArchitectures = []string{"qwen2", "llama"}

// CheckArchitecture returns an error for a model_type ragtune cannot run.
func (c *Config) CheckArchitecture() error {
	if slices.Contains(supportedArchitectures, c.ModelType) {
		return nil
	}
	return fmt.Errorf("unknown architecture %q (model_type; architectures %v): ragtune runs %v models", c.ModelType, c.Architectures, supportedArchitectures)
}

// Tensors is the family's tensor table: every tensor of a Qwen2/Llama
// decoder with this config, under its HF name with its PyTorch shape, in
// the order ragtune writes them (embedding, layers, final norm, head).
// lm_head is omitted when the embeddings are tied. Loading, validation,
// init, conversion to GGUF and training all walk this one list.
func Tensors(c *Config) []TensorSpec {
	C, I, V := c.HiddenSize, c.IntermediateSize, c.VocabSize
	hd := c.HeadDimension()
	q, kv := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
	specs := []TensorSpec{{"model.embed_tokens.weight", []int{V, C}, "embedding"}}
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		specs = append(specs,
			TensorSpec{p + "input_layernorm.weight", []int{C}, "norm"},
			TensorSpec{p + "self_attn.q_proj.weight", []int{q, C}, "linear"},
			TensorSpec{p + "self_attn.k_proj.weight", []int{kv, C}, "linear"},
			TensorSpec{p + "self_attn.v_proj.weight", []int{kv, C}, "linear"},
		)
		if c.HasQKVBias() {
			specs = append(specs,
				TensorSpec{p + "self_attn.q_proj.bias", []int{q}, "bias"},
				TensorSpec{p + "self_attn.k_proj.bias", []int{kv}, "bias"},
				TensorSpec{p + "self_attn.v_proj.bias", []int{kv}, "bias"},
			)
		}
		specs = append(specs,
			TensorSpec{p + "self_attn.o_proj.weight", []int{C, q}, "linear"},
			TensorSpec{p + "post_attention_layernorm.weight", []int{C}, "norm"},
			TensorSpec{p + "mlp.gate_proj.weight", []int{I, C}, "linear"},
			TensorSpec{p + "mlp.up_proj.weight", []int{I, C}, "linear"},
			TensorSpec{p + "mlp.down_proj.weight", []int{C, I}, "linear"},
		)
	}
	specs = append(specs, TensorSpec{"model.norm.weight", []int{C}, "norm"})
	if !c.TieWordEmbeddings {
		specs = append(specs, TensorSpec{"lm_head.weight", []int{V, C}, "linear"})
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
