package qwen2

import (
	"fmt"
	"strings"
)

// Family is what tells apart the decoder architectures this package runs.
// They share one forward pass (RMSNorm, grouped-query attention with
// rotate-half RoPE, SwiGLU MLP), one KV cache, one training backward and
// one tensor table, and differ only in the switches below; that is why they
// are options of one package rather than a package each, whose forward
// passes would be copies. A new member adds a row to families, its
// switches here, and the tensors those switches imply in the tensor table,
// as Qwen3 did (QKNorm, the q_norm/k_norm rows); Llama 3's RoPE scaling is
// read from config.json's rope_scaling (rope.go), not a family switch.
type Family struct {
	// ModelType is config.json's model_type, also GGUF's
	// general.architecture and the prefix of its metadata keys.
	ModelType string
	// Architecture is the HF class named in config.json's architectures.
	Architecture string
	// QKVBias is whether q/k/v projections have a bias when config.json
	// has no attention_bias.
	QKVBias bool
	// BiasCoversO: attention_bias gives o_proj a bias too (Llama); Qwen2's
	// q/k/v bias never extends to o_proj.
	BiasCoversO bool
	// PermuteQK: llama.cpp's converter interleaves the rows of each q/k
	// head for its NORM RoPE, so GGUF files store them permuted. NEOX-RoPE
	// families (Qwen2) are stored in HF order.
	PermuteQK bool
	// SlidingWindowFields: config.json carries sliding_window and
	// max_window_layers, which GGUF does not; a config read from GGUF
	// fills them with full attention, as ragtune and llama.cpp run it.
	SlidingWindowFields bool
	// QKNorm: every q and k head is RMS-normalized (q_norm, k_norm, one
	// weight of head_dim each, shared by the heads) after the projection
	// and before RoPE (Qwen3).
	QKNorm bool
	// GGUFVocabKeys: write {arch}.rope.dimension_count and
	// {arch}.vocab_size, as llama.cpp's converter does for this family.
	GGUFVocabKeys bool
}

var families = []Family{
	{ModelType: "qwen2", Architecture: "Qwen2ForCausalLM", QKVBias: true, SlidingWindowFields: true},
	{ModelType: "llama", Architecture: "LlamaForCausalLM", BiasCoversO: true, PermuteQK: true, GGUFVocabKeys: true},
	{ModelType: "qwen3", Architecture: "Qwen3ForCausalLM", QKNorm: true, SlidingWindowFields: true},
}

// FamilyOf returns the family of a model_type, or an error naming the
// ones ragtune runs.
func FamilyOf(modelType string) (*Family, error) {
	for i := range families {
		if families[i].ModelType == modelType {
			return &families[i], nil
		}
	}
	return nil, fmt.Errorf("unknown architecture %q: ragtune runs %s models", modelType, familyNames())
}

// familyOfClass maps an HF class (architectures[0]) to its family.
func familyOfClass(class string) *Family {
	for i := range families {
		if families[i].Architecture == class {
			return &families[i]
		}
	}
	return nil
}

func familyNames() string {
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = f.ModelType
	}
	return strings.Join(names, ", ")
}

// Family returns c's family (see FamilyOf).
func (c *Config) Family() (*Family, error) { return FamilyOf(c.ModelType) }

// CheckArchitecture returns an error for a model_type ragtune cannot run.
func (c *Config) CheckArchitecture() error {
	if _, err := c.Family(); err != nil {
		return fmt.Errorf("%w (model_type; architectures %v)", err, c.Architectures)
	}
	return nil
}

// HasQKVBias reports whether q/k/v projections carry a bias:
// attention_bias when config.json sets it, else the family's default.
func (c *Config) HasQKVBias() bool {
	if c.AttentionBias != nil {
		return *c.AttentionBias
	}
	f, err := c.Family()
	return err == nil && f.QKVBias
}

// HasQKNorm reports whether attention RMS-normalizes each q and k head
// (q_norm, k_norm).
func (c *Config) HasQKNorm() bool {
	f, err := c.Family()
	return err == nil && f.QKNorm
}

// hasOBias reports whether o_proj carries a bias (a Llama with
// attention_bias).
func (c *Config) hasOBias() bool {
	f, err := c.Family()
	return err == nil && f.BiasCoversO && c.HasQKVBias()
}
