package qwen2

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ragtune/safetensors"
	"ragtune/weights"
)

// Open opens a model for inference: an HF directory (config.json plus
// model.safetensors or shards listed in model.safetensors.index.json), a
// .safetensors file next to its config.json, or a GGUF file. It checks the
// architecture and that every tensor the config implies is present with
// the right shape.
func Open(path string) (weights.Source, *Config, error) {
	src, cfg, err := open(path)
	if err != nil {
		return nil, nil, err
	}
	if err := ValidateTensors(src, cfg); err != nil {
		src.Close()
		return nil, nil, fmt.Errorf("open model %q: %w", path, err)
	}
	return src, cfg, nil
}

// OpenUnchecked is Open without the architecture and shape checks, for
// tools that inspect or convert any checkpoint.
func OpenUnchecked(path string) (weights.Source, *Config, error) { return open(path) }

func open(path string) (weights.Source, *Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open model: %w (pass an HF model directory or a .gguf file; 'ragtune model init' makes a test model)", err)
	}
	if st.IsDir() {
		return openHFDir(path, path)
	}
	head, err := readPrefix(path, 8)
	if err != nil {
		return nil, nil, fmt.Errorf("open model %q: %w", path, err)
	}
	if bytes.HasPrefix(head, []byte("GGUF")) {
		s, err := OpenGGUF(path)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Config, nil
	}
	if filepath.Ext(path) == ".safetensors" {
		return openHFDir(filepath.Dir(path), path)
	}
	return nil, nil, fmt.Errorf("open model %q: not a model directory, .safetensors or GGUF file", path)
}

func readPrefix(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	k, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}

// openHFDir opens dir's config and either the single file given or the
// directory's checkpoint (file == dir).
func openHFDir(dir, file string) (weights.Source, *Config, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open model %q: %w", dir, err)
	}
	var set *safetensors.Set
	if file == dir {
		set, err = safetensors.OpenDir(dir)
	} else {
		var f *safetensors.File
		f, err = safetensors.Open(file)
		if err == nil {
			set = safetensors.NewSet(f)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open model %q: %w", dir, err)
	}
	return safetensors.NewSource(set), cfg, nil
}
