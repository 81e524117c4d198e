package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"ragtune/safetensors"
)

// Format is a single-file model format that Open can read. Package gguf
// registers itself here in its init; the registry exists because gguf
// describes its tensors with this package's DType, so this package cannot
// import gguf without a cycle (the same pattern as image.RegisterFormat).
type Format struct {
	Name string
	// Magic is the prefix that identifies the format's files.
	Magic string
	// Open returns the file's tensors under HF names and its config.
	Open func(path string) (TensorSource, *Config, error)
}

var (
	formatsMu sync.RWMutex
	formats   []Format
)

// RegisterFormat makes Open recognize files starting with f.Magic.
func RegisterFormat(f Format) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	formats = append(formats, f)
}

// Open opens a model for inference: an HF directory (config.json plus
// model.safetensors or shards listed in model.safetensors.index.json), a
// .safetensors file next to its config.json, or a file in a registered
// format (GGUF, once package ragtune/gguf is linked into the program). It
// checks the architecture and that every tensor the config implies is
// present with the right shape.
func Open(path string) (TensorSource, *Config, error) {
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
func OpenUnchecked(path string) (TensorSource, *Config, error) { return open(path) }

func open(path string) (TensorSource, *Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open model: %w", err)
	}
	if st.IsDir() {
		return openHFDir(path, path)
	}
	head, err := readPrefix(path, 8)
	if err != nil {
		return nil, nil, fmt.Errorf("open model %q: %w", path, err)
	}
	formatsMu.RLock()
	fs := append([]Format(nil), formats...)
	formatsMu.RUnlock()
	for _, f := range fs {
		if bytes.HasPrefix(head, []byte(f.Magic)) {
			return f.Open(path)
		}
	}
	if bytes.HasPrefix(head, []byte("GGUF")) {
		return nil, nil, fmt.Errorf("open model %q: GGUF support is not linked into this program (import _ \"ragtune/gguf\")", path)
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
func openHFDir(dir, file string) (TensorSource, *Config, error) {
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
	return &safetensorsSource{set: set}, cfg, nil
}

// safetensorsSource adapts safetensors tensors to Tensor, mapping dtypes.
type safetensorsSource struct {
	set *safetensors.Set
}

// DTypeFromSafetensors maps a safetensors dtype to a DType ragtune
// computes with.
func DTypeFromSafetensors(d safetensors.DType) (DType, error) {
	switch d {
	case safetensors.F32:
		return F32, nil
	case safetensors.F16:
		return F16, nil
	case safetensors.BF16:
		return BF16, nil
	}
	return 0, fmt.Errorf("dtype %s is not a weight type ragtune computes with (F32, F16, BF16)", d)
}

// SafetensorsDType maps a float DType to its safetensors name.
func SafetensorsDType(d DType) (safetensors.DType, error) {
	switch d {
	case F32:
		return safetensors.F32, nil
	case F16:
		return safetensors.F16, nil
	case BF16:
		return safetensors.BF16, nil
	}
	return "", fmt.Errorf("safetensors cannot hold %s tensors (F32, F16, BF16 only): dequantize first", d)
}

func (s *safetensorsSource) Tensor(name string) (*Tensor, error) {
	t, err := s.set.Tensor(name)
	if err != nil {
		if errors.Is(err, safetensors.ErrNotFound) {
			return nil, fmt.Errorf("%w: %q", ErrTensorNotFound, name)
		}
		return nil, err
	}
	dt, err := DTypeFromSafetensors(t.DType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return &Tensor{Name: name, DType: dt, Shape: t.Shape, Data: t.Data}, nil
}

func (s *safetensorsSource) Names() []string { return s.set.Names() }
func (s *safetensorsSource) Close() error    { return s.set.Close() }

// PageReleaser is implemented by sources whose tensors are views of
// memory-mapped files.
type PageReleaser interface {
	// ReleasePages drops t's pages from the process's resident set; t
	// stays readable. Tensors not backed by the source's mapping are
	// left alone.
	ReleasePages(t *Tensor)
}

// ReleasePages calls src's ReleasePages when it has one, after a
// streaming pass (conversion, quantization) is done with t.
func ReleasePages(src TensorSource, t *Tensor) {
	if r, ok := src.(PageReleaser); ok {
		r.ReleasePages(t)
	}
}

func (s *safetensorsSource) ReleasePages(t *Tensor) { s.set.ReleasePages(t.Data) }
