package qwen2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"ragtune/model"
)

// Config is the subset of an HF config.json that ragtune's decoder models
// read. Every size comes from here; nothing is hard-coded per model.
type Config struct {
	Architectures         []string `json:"architectures,omitempty"`
	ModelType             string   `json:"model_type"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumKeyValueHeads      int      `json:"num_key_value_heads"`
	HeadDim               int      `json:"head_dim,omitempty"` // 0: HiddenSize/NumAttentionHeads
	VocabSize             int      `json:"vocab_size"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	RMSNormEps            float64  `json:"rms_norm_eps"`
	RopeTheta             float64  `json:"rope_theta"`
	// RopeScaling is HF's rope_scaling; nil (or rope_type "default"):
	// plain RoPE. ragtune runs rope_type "llama3" (Llama 3.1+) and "yarn"
	// (DeepSeek-R1-0528-Qwen3, Qwen3 beyond 32k).
	RopeScaling *RopeScaling `json:"rope_scaling,omitempty"`
	// RopeFreqFactors divides each RoPE frequency (HeadDim/2 values), as
	// llama.cpp's rope_freqs.weight does; set from a GGUF file that has
	// that tensor but not ragtune's rope-scaling metadata. Not in HF's
	// config.json, so a model opened that way cannot be saved as HF.
	RopeFreqFactors   []float64 `json:"-"`
	TieWordEmbeddings bool      `json:"tie_word_embeddings"`
	HiddenAct         string    `json:"hidden_act,omitempty"`
	TorchDtype        string    `json:"torch_dtype,omitempty"`
	BOSTokenID        int       `json:"bos_token_id"`
	EOSTokenID        int       `json:"eos_token_id"`
	// AttentionBias is the Llama-style switch; absent, the family decides
	// (Qwen2 has q/k/v bias, Llama none: see Family).
	AttentionBias *bool `json:"attention_bias,omitempty"`
	// Remaining HF fields are kept so a config survives a round trip.
	UseSlidingWindow bool    `json:"use_sliding_window"`
	SlidingWindow    int     `json:"sliding_window,omitempty"`
	MaxWindowLayers  int     `json:"max_window_layers,omitempty"`
	AttentionDropout float64 `json:"attention_dropout"`
	InitializerRange float64 `json:"initializer_range,omitempty"`
	UseCache         bool    `json:"use_cache"`
	TransformersVer  string  `json:"transformers_version,omitempty"`
}

// HeadDimension returns head_dim, defaulting to hidden/heads.
func (c *Config) HeadDimension() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	if c.NumAttentionHeads == 0 {
		return 0
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// Validate checks the sizes a forward pass depends on, so a bad config
// fails at load with a message instead of panicking mid-inference.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be > 0 (got %d)", name, v))
		}
	}
	pos("hidden_size", c.HiddenSize)
	pos("intermediate_size", c.IntermediateSize)
	pos("num_hidden_layers", c.NumHiddenLayers)
	pos("num_attention_heads", c.NumAttentionHeads)
	pos("num_key_value_heads", c.NumKeyValueHeads)
	pos("vocab_size", c.VocabSize)
	if c.NumAttentionHeads > 0 && c.NumKeyValueHeads > 0 && c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		errs = append(errs, fmt.Errorf("num_attention_heads %d is not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads))
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
		errs = append(errs, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads))
	}
	if c.HeadDimension()%2 != 0 {
		errs = append(errs, fmt.Errorf("head dimension %d must be even for RoPE", c.HeadDimension()))
	}
	if c.RMSNormEps <= 0 {
		errs = append(errs, fmt.Errorf("rms_norm_eps must be > 0 (got %g)", c.RMSNormEps))
	}
	if c.RopeTheta <= 0 {
		errs = append(errs, fmt.Errorf("rope_theta must be > 0 (got %g)", c.RopeTheta))
	}
	if err := c.RopeScaling.validate(); err != nil {
		errs = append(errs, err)
	}
	if n := len(c.RopeFreqFactors); n > 0 && n != c.HeadDimension()/2 {
		errs = append(errs, fmt.Errorf("%d RoPE frequency factors for head dimension %d, want %d", n, c.HeadDimension(), c.HeadDimension()/2))
	}
	return errors.Join(errs...)
}

// LoadConfig reads dir/config.json (or the file itself when path is a file).
func LoadConfig(path string) (*Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse model config %q: %w", path, err)
	}
	if c.ModelType == "" && len(c.Architectures) > 0 {
		if f := familyOfClass(c.Architectures[0]); f != nil {
			c.ModelType = f.ModelType
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("model config %q: %w", path, err)
	}
	return &c, nil
}

// Save writes c as dir/config.json atomically.
func (c *Config) Save(dir string) error {
	if len(c.RopeFreqFactors) > 0 && c.RopeScaling == nil {
		return fmt.Errorf("save config in %s: the model's RoPE frequency factors (GGUF rope_freqs.weight) have no config.json form; convert from the original HF checkpoint instead", dir)
	}
	return model.WriteJSON(filepath.Join(dir, "config.json"), c)
}
