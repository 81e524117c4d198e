// Package model holds what every architecture's model directory shares:
// HF's generation_config.json (sampling defaults and end-of-sequence ids)
// and the atomic JSON and file writers the directories are written with.
// The architectures live in subpackages, each with its own config, tensor
// table and formats: model/qwen2 (the Qwen2/Llama decoder family) and
// model/bert (encoders). This package imports none of them.
package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"ragtune/internal/atomicfile"
)

// GenerationConfig is HF's generation_config.json (sampling defaults).
type GenerationConfig struct {
	BOSTokenID      int     `json:"bos_token_id"`
	EOSTokenID      any     `json:"eos_token_id"` // int or []int in the wild
	DoSample        bool    `json:"do_sample"`
	Temperature     float64 `json:"temperature,omitempty"`
	TopP            float64 `json:"top_p,omitempty"`
	TopK            int     `json:"top_k,omitempty"`
	TransformersVer string  `json:"transformers_version,omitempty"`
}

// EOSTokenIDs normalizes eos_token_id to a list.
func (g *GenerationConfig) EOSTokenIDs() []int {
	switch v := g.EOSTokenID.(type) {
	case float64:
		return []int{int(v)}
	case int:
		return []int{v}
	case []any:
		var out []int
		for _, x := range v {
			if f, ok := x.(float64); ok {
				out = append(out, int(f))
			}
		}
		return out
	case []int:
		return v
	}
	return nil
}

// LoadGenerationConfig reads dir/generation_config.json; a missing file is
// not an error (nil, nil), since many model directories lack it.
func LoadGenerationConfig(dir string) (*GenerationConfig, error) {
	path := filepath.Join(dir, "generation_config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read generation config: %w", err)
	}
	var g GenerationConfig
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("parse generation config %q: %w", path, err)
	}
	return &g, nil
}

// WriteJSON writes v as indented JSON to path through a temp file and a
// rename, so a crash never leaves a half-written file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %q: %w", path, err)
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteFileAtomic writes data to path via a synced temp file and rename.
func WriteFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
