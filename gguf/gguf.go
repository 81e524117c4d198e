// Package gguf reads and writes GGUF, the single-file model format of
// llama.cpp and Ollama: a header of typed key/value metadata and tensor
// descriptions, then the aligned tensor data.
//
// Reading memory-maps the file and validates the header (counts, string
// and array lengths, dimensions, tensor spans and alignment) before
// handing out tensors, so a corrupt or truncated file is an error, never a
// panic or a huge allocation. Writing declares every tensor first and
// streams the bytes in Close, so a 7B model is written without holding it
// in memory. The package moves bytes: quantization kernels live in package
// quant, and the mapping between GGUF and Hugging Face names and configs
// belongs to each architecture (model/qwen2's gguf.go).
//
// Versions 2 and 3 are read; version 3 is written.
package gguf

import (
	"errors"
	"fmt"
	"math/bits"

	"ragtune/weights"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// Version is the version this package writes.
const Version = 3

// DefaultAlignment applies when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is ggml's limit on tensor dimensions.
const MaxDims = 4

// ValueType is a metadata value's type tag.
type ValueType uint32

// Metadata value types, numbered as in the GGUF specification.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

// scalarSize is the encoded size of a fixed-size value type (0 for string
// and array).
func (t ValueType) scalarSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// typeTraits is a ggml tensor type's block geometry: blockSize elements
// are stored in typeSize bytes.
type typeTraits struct {
	name      string
	blockSize uint64
	typeSize  uint64
	writable  bool
}

// ggmlTypes lists the ggml types whose sizes this package knows. Those
// ragtune computes with (floats, Q8_0, Q4_0, Q4_1, the K-quants and their Q5_0/Q5_1
// fallbacks) can be written; the others (integer types and the like found
// in downloaded files) can be read and inspected, so such a file opens and
// reports its types instead of failing.
var ggmlTypes = map[weights.DType]typeTraits{
	weights.F32:  {"F32", 1, 4, true},
	weights.F16:  {"F16", 1, 2, true},
	weights.Q4_0: {"Q4_0", 32, 18, true},
	weights.Q4_1: {"Q4_1", 32, 20, true},
	weights.Q5_0: {"Q5_0", 32, 22, true},
	weights.Q5_1: {"Q5_1", 32, 24, true},
	weights.Q8_0: {"Q8_0", 32, 34, true},
	9:            {"Q8_1", 32, 36, false},
	weights.Q2_K: {"Q2_K", 256, 84, true},
	weights.Q3_K: {"Q3_K", 256, 110, true},
	weights.Q4_K: {"Q4_K", 256, 144, true},
	weights.Q5_K: {"Q5_K", 256, 176, true},
	weights.Q6_K: {"Q6_K", 256, 210, true},
	15:           {"Q8_K", 256, 292, false},
	24:           {"I8", 1, 1, false},
	25:           {"I16", 1, 2, false},
	26:           {"I32", 1, 4, false},
	27:           {"I64", 1, 8, false},
	28:           {"F64", 1, 8, false},
	// Types ragtune reads only far enough to name them in an error
	// (sizes from ggml's type traits).
	16:           {"IQ2_XXS", 256, 66, false},
	17:           {"IQ2_XS", 256, 74, false},
	18:           {"IQ3_XXS", 256, 98, false},
	19:           {"IQ1_S", 256, 50, false},
	20:           {"IQ4_NL", 32, 18, false},
	21:           {"IQ3_S", 256, 110, false},
	22:           {"IQ2_S", 256, 82, false},
	23:           {"IQ4_XS", 256, 136, false},
	29:           {"IQ1_M", 256, 56, false},
	34:           {"TQ1_0", 256, 54, false},
	35:           {"TQ2_0", 256, 66, false},
	39:           {"MXFP4", 32, 17, false},
	weights.BF16: {"BF16", 1, 2, true},
}

// TypeName returns ggml's name for a tensor type ("Q4_K"), or "type(N)".
func TypeName(t weights.DType) string {
	if tr, ok := ggmlTypes[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ErrUnknownType is returned (wrapped) for a tensor type whose size is not
// known.
var ErrUnknownType = errors.New("unknown ggml tensor type")

// BlockSize returns how many elements one block of t holds and how many
// bytes it takes.
func BlockSize(t weights.DType) (elems, bytes uint64, err error) {
	tr, ok := ggmlTypes[t]
	if !ok {
		return 0, 0, fmt.Errorf("%w %d", ErrUnknownType, uint32(t))
	}
	return tr.blockSize, tr.typeSize, nil
}

// TensorBytes returns the byte size of a tensor of type t with GGUF dims
// (dims[0] innermost). The innermost dimension must be a whole number of
// blocks, as ggml requires.
func TensorBytes(t weights.DType, dims []uint64) (uint64, error) {
	tr, ok := ggmlTypes[t]
	if !ok {
		return 0, fmt.Errorf("%w %d", ErrUnknownType, uint32(t))
	}
	if len(dims) > MaxDims {
		return 0, fmt.Errorf("%d dimensions, ggml allows at most %d", len(dims), MaxDims)
	}
	n := uint64(1)
	for _, d := range dims {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > 1<<62 {
			return 0, fmt.Errorf("dims %v overflow", dims)
		}
		n = lo
	}
	if len(dims) > 0 && dims[0]%tr.blockSize != 0 {
		return 0, fmt.Errorf("innermost dimension %d of a %s tensor is not a multiple of its block size %d", dims[0], tr.name, tr.blockSize)
	}
	return n / tr.blockSize * tr.typeSize, nil
}

// TensorInfo is one tensor of a GGUF file. Dims are in GGUF order:
// Dims[0] is the innermost (contiguous) dimension, the reverse of a
// PyTorch shape. Offset is relative to the data section. Data is a view
// into the mapped file: read-only, invalid after Close.
type TensorInfo struct {
	Name   string
	Type   weights.DType
	Dims   []uint64
	Offset uint64
	Data   []byte
}

// NumElements returns the product of Dims.
func (t *TensorInfo) NumElements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape returns the dims in PyTorch order (outermost first).
func (t *TensorInfo) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[len(t.Dims)-1-i] = int(d)
	}
	return s
}

var errCorrupt = errors.New("corrupt GGUF file")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// IsCorrupt reports whether err comes from a malformed file.
func IsCorrupt(err error) bool { return errors.Is(err, errCorrupt) }
