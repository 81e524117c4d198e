package model

import (
	"errors"
	"fmt"
)

// DType is a tensor's storage type. The numbering is ggml's (GGUF's
// ggml_type), so GGUF files map onto it without a table.
type DType uint32

const (
	F32  DType = 0
	F16  DType = 1
	Q4_0 DType = 2
	Q8_0 DType = 8
	// Q6_K is read, not written: llama-quantize gives a Q4_0 model's
	// output head Q6_K, so llama.cpp's own Q4_0 files carry it.
	Q6_K DType = 14
	BF16 DType = 30
)

func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case BF16:
		return "BF16"
	case Q8_0:
		return "Q8_0"
	case Q4_0:
		return "Q4_0"
	case Q6_K:
		return "Q6_K"
	}
	return fmt.Sprintf("DType(%d)", uint32(d))
}

// ErrTensorNotFound is returned (wrapped) when a TensorSource lacks a name.
var ErrTensorNotFound = errors.New("tensor not found")

// Tensor is one stored tensor. Shape is in PyTorch order (rows first: a
// Linear weight is [out, in]) whatever the file format stores. Data is the
// raw little-endian bytes, usually a view into a memory-mapped file: do not
// modify it, and do not use it after the source is closed.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of Shape.
func (t *Tensor) NumElements() int {
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	return n
}

// TensorSource yields a model's tensors by HF name
// ("model.layers.0.self_attn.q_proj.weight"), whether they come from an HF
// safetensors directory or a GGUF file.
type TensorSource interface {
	// Tensor returns the named tensor or an error wrapping ErrTensorNotFound.
	Tensor(name string) (*Tensor, error)
	// Names lists every tensor name, sorted.
	Names() []string
	Close() error
}
