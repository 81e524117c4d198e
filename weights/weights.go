// Package weights describes stored model tensors: their storage type
// (DType, numbered as ggml numbers them), a Tensor (name, type, PyTorch
// shape and raw bytes, usually a view of a memory-mapped file) and a
// Source that yields tensors by Hugging Face name. It is the vocabulary the
// file formats (safetensors, gguf), the block formats (quant) and the
// architectures (model/...) share, so it sits below all of them and knows
// none of them.
//
// It decodes and encodes the float types (F32, F16, BF16) itself; the
// block types (Q8_0, Q4_0, the K-quants) are package quant's, which decodes every
// type through quant.Float32Into.
package weights

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
	// Q4_1 is what llama-quantize gives the first layers' ffn_down of a
	// Q4_0 model quantized with an importance matrix.
	Q4_1 DType = 3
	// Q5_0 and Q5_1 are what llama-quantize's K-quant mixes fall back to
	// for rows that are not a multiple of 256 wide.
	Q5_0 DType = 6
	Q5_1 DType = 7
	Q8_0 DType = 8
	// The K-quants (256-value super-blocks) that llama-quantize's
	// Q2_K…Q6_K mixes and Ollama's models use; package quant reads and
	// writes them.
	Q2_K DType = 10
	Q3_K DType = 11
	Q4_K DType = 12
	Q5_K DType = 13
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
	case Q4_1:
		return "Q4_1"
	case Q5_0:
		return "Q5_0"
	case Q5_1:
		return "Q5_1"
	case Q2_K:
		return "Q2_K"
	case Q3_K:
		return "Q3_K"
	case Q4_K:
		return "Q4_K"
	case Q5_K:
		return "Q5_K"
	case Q6_K:
		return "Q6_K"
	}
	if int(d) < len(ggmlNames) && ggmlNames[d] != "" {
		return ggmlNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint32(d))
}

// ggmlNames names the ggml types ragtune does not compute with, so an
// error about a downloaded file says "IQ2_XXS", not a number.
var ggmlNames = [...]string{
	9: "Q8_1", 15: "Q8_K",
	16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL",
	21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
	27: "I64", 28: "F64", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
	40: "NVFP4", 41: "Q1_0", 42: "Q2_0",
}

// ElementSize returns bytes per element for the float dtypes, 0 otherwise.
func (d DType) ElementSize() int {
	switch d {
	case F32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// ParseDType reads a dtype name as users type it ("f32", "bf16",
// "float16", "q8_0").
func ParseDType(s string) (DType, error) {
	switch s {
	case "f32", "F32", "float32", "fp32":
		return F32, nil
	case "f16", "F16", "float16", "fp16", "half":
		return F16, nil
	case "bf16", "BF16", "bfloat16":
		return BF16, nil
	case "q8_0", "Q8_0":
		return Q8_0, nil
	case "q4_0", "Q4_0":
		return Q4_0, nil
	}
	return 0, fmt.Errorf("unknown dtype %q (use f32, f16, bf16, q8_0 or q4_0)", s)
}

// TorchDtype returns the config.json torch_dtype name of a float dtype.
func (d DType) TorchDtype() string {
	switch d {
	case F32:
		return "float32"
	case F16:
		return "float16"
	case BF16:
		return "bfloat16"
	}
	return ""
}

// FromTorchDtype reads config.json's torch_dtype ("" means float32, as
// transformers assumes).
func FromTorchDtype(s string) (DType, error) {
	switch s {
	case "", "float32":
		return F32, nil
	case "float16":
		return F16, nil
	case "bfloat16":
		return BF16, nil
	}
	return 0, fmt.Errorf("torch_dtype %q: choose float32, float16 or bfloat16", s)
}

// ErrNotFound is returned (wrapped) when a Source lacks a name.
var ErrNotFound = errors.New("tensor not found")

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

// Source yields a model's tensors by HF name
// ("model.layers.0.self_attn.q_proj.weight"), whether they come from an HF
// safetensors directory or a GGUF file.
type Source interface {
	// Tensor returns the named tensor or an error wrapping ErrNotFound.
	Tensor(name string) (*Tensor, error)
	// Names lists every tensor name, sorted.
	Names() []string
	Close() error
}

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
func ReleasePages(src Source, t *Tensor) {
	if r, ok := src.(PageReleaser); ok {
		r.ReleasePages(t)
	}
}
