// Package bert runs BERT-family sentence encoders (bge, MiniLM, the
// original BERT) to turn texts into L2-normalized embeddings for dense
// retrieval: WordPiece tokens in, one vector per text out, with CLS or
// mean pooling. It loads a Hugging Face directory (config.json,
// model.safetensors, vocab.txt or tokenizer.json) or a GGUF file of
// llama.cpp's "bert" architecture, and writes both (Init, WriteGGUF).
//
// It is not a masked-language model or a classifier: the MLM head and the
// pooler's dense layer are ignored, as sentence-transformers and
// llama.cpp ignore them for embeddings. It does not run decoder models
// (see model/qwen2).
package bert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config is the subset of a BERT config.json the encoder reads.
type Config struct {
	Architectures         []string `json:"architectures,omitempty"`
	ModelType             string   `json:"model_type"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	HiddenAct             string   `json:"hidden_act"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	PadTokenID            int      `json:"pad_token_id"`
	InitializerRange      float64  `json:"initializer_range,omitempty"`
	// PositionEmbeddingType must be "absolute" (or absent); relative
	// position variants are refused rather than computed wrongly.
	PositionEmbeddingType string `json:"position_embedding_type,omitempty"`
	// ID2Label names a classification head's outputs (cross-encoders).
	ID2Label map[string]string `json:"id2label,omitempty"`
}

// Pooling turns the per-token outputs into one vector per text.
type Pooling int

const (
	// PoolCLS takes the [CLS] token's output (bge).
	PoolCLS Pooling = iota
	// PoolMean averages every token's output, [CLS] and [SEP] included
	// (sentence-transformers' mean pooling with the attention mask).
	PoolMean
)

func (p Pooling) String() string {
	if p == PoolMean {
		return "mean"
	}
	return "cls"
}

// GGUF bert.pooling_type values (llama.cpp's enum llama_pooling_type).
const (
	ggufPoolMean = 1
	ggufPoolCLS  = 2
)

// Validate checks the sizes the forward pass depends on.
func (c *Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", name, v))
		}
	}
	pos("vocab_size", c.VocabSize)
	pos("hidden_size", c.HiddenSize)
	pos("num_hidden_layers", c.NumHiddenLayers)
	pos("num_attention_heads", c.NumAttentionHeads)
	pos("intermediate_size", c.IntermediateSize)
	pos("max_position_embeddings", c.MaxPositionEmbeddings)
	pos("type_vocab_size", c.TypeVocabSize)
	if c.NumAttentionHeads > 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
		errs = append(errs, fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads))
	}
	switch c.ModelType {
	case "", "bert", "xlm-roberta", "roberta":
	default:
		errs = append(errs, fmt.Errorf("model_type %q is not \"bert\" or \"xlm-roberta\"", c.ModelType))
	}
	switch c.HiddenAct {
	case "gelu", "":
	default:
		errs = append(errs, fmt.Errorf("hidden_act %q is not supported (want gelu)", c.HiddenAct))
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		errs = append(errs, fmt.Errorf("position_embedding_type %q is not supported (want absolute)", c.PositionEmbeddingType))
	}
	if c.LayerNormEps <= 0 {
		errs = append(errs, fmt.Errorf("layer_norm_eps must be positive, got %g", c.LayerNormEps))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("BERT config: %w", err)
	}
	return nil
}

func loadConfig(dir string) (*Config, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read BERT config: %w", err)
	}
	c := &Config{LayerNormEps: 1e-12, TypeVocabSize: 2, HiddenAct: "gelu"}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "config.json"), err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return c, nil
}

// poolingConfig is sentence-transformers' 1_Pooling/config.json.
type poolingConfig struct {
	WordEmbeddingDimension int  `json:"word_embedding_dimension"`
	CLS                    bool `json:"pooling_mode_cls_token"`
	Mean                   bool `json:"pooling_mode_mean_tokens"`
	Max                    bool `json:"pooling_mode_max_tokens"`
	MeanSqrtLen            bool `json:"pooling_mode_mean_sqrt_len_tokens"`
}

// loadPooling reads dir/1_Pooling/config.json; without one, CLS pooling
// (what bge models use) applies.
func loadPooling(dir string) (Pooling, error) {
	path := filepath.Join(dir, "1_Pooling", "config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return PoolCLS, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pooling config: %w", err)
	}
	var p poolingConfig
	if err := json.Unmarshal(data, &p); err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	switch {
	case p.Max || p.MeanSqrtLen:
		return 0, fmt.Errorf("%s: only CLS and mean pooling are supported", path)
	case p.CLS && p.Mean:
		return 0, fmt.Errorf("%s: CLS and mean pooling together (concatenated) are not supported", path)
	case p.Mean:
		return PoolMean, nil
	}
	return PoolCLS, nil
}
