package qwen2

import "fmt"

// Load opens a model directory (HF layout), a .safetensors file beside its
// config.json, or a GGUF file (see Open), and builds a Model. Close it when
// done.
func Load(path string, opts ...Option) (*Model, error) {
	src, cfg, err := Open(path)
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, src, opts...)
	if err != nil {
		return nil, fmt.Errorf("load %q: %w", path, err)
	}
	return m, nil
}
