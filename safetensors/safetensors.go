// Package safetensors reads and writes Hugging Face's safetensors format:
// an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte span, then the raw tensor bytes.
//
// Files are memory-mapped on read, so opening a multi-gigabyte checkpoint
// costs no heap, and the header is validated before any tensor is handed
// out (spans inside the file, no overlaps, shape × dtype size equal to the
// span), so a corrupt file fails at Open with a message rather than later
// with a panic. Writing streams one tensor at a time through a temp file
// that is renamed into place only when complete.
//
// The package moves bytes; it does not convert dtypes or know model layouts.
// Source presents a file or shard set as a weights.Source, mapping the
// float dtypes onto package weights' DType.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strings"
)

// DType is a safetensors dtype name as it appears in the header ("F32").
type DType string

// The dtypes the format defines. Only F32, F16 and BF16 are model weights
// ragtune computes with; the rest are read raw so any file opens.
const (
	Bool    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	F8E5M2  DType = "F8_E5M2"
	F8E4M3  DType = "F8_E4M3"
	I16     DType = "I16"
	U16     DType = "U16"
	F16     DType = "F16"
	BF16    DType = "BF16"
	I32     DType = "I32"
	U32     DType = "U32"
	F32     DType = "F32"
	F64     DType = "F64"
	I64     DType = "I64"
	U64     DType = "U64"
	metaKey       = "__metadata__"
)

// Size returns the bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case Bool, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// MaxHeaderSize bounds the JSON header, as the reference implementation
// does, so a corrupt length cannot make the reader allocate gigabytes.
const MaxHeaderSize = 100 << 20

// TensorInfo describes one tensor in a file. Offset is relative to the
// start of the data section (the byte after the header).
type TensorInfo struct {
	Name   string
	DType  DType
	Shape  []int
	Offset int64
	Size   int64
}

// Header is a parsed, validated safetensors header.
type Header struct {
	Metadata map[string]string
	// Tensors in data order (ascending Offset).
	Tensors []TensorInfo
	// DataStart is the file offset of the data section (8 + header length).
	DataStart int64
}

var errCorrupt = errors.New("corrupt safetensors file")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// ErrCorrupt reports whether err comes from a malformed file (as opposed
// to, say, a missing one).
func ErrCorrupt(err error) bool { return errors.Is(err, errCorrupt) }

type rawEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ParseHeader parses and validates the header at the start of data, where
// fileSize is the whole file's length (data may hold only the prefix up to
// the end of the header). Every tensor's span must lie inside the file.
func ParseHeader(data []byte, fileSize int64) (*Header, error) {
	if len(data) < 8 || fileSize < 8 {
		return nil, corruptf("file is %d bytes, shorter than the 8-byte header length", fileSize)
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, corruptf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > fileSize-8 || int64(n) > int64(len(data)-8) {
		return nil, corruptf("header length %d runs past the end of the %d-byte file (truncated download?)", n, fileSize)
	}
	raw := data[8 : 8+n]
	if len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
		return nil, corruptf("header is not a JSON object")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, corruptf("header JSON: %v", err)
	}
	h := &Header{DataStart: 8 + int64(n)}
	dataLen := fileSize - h.DataStart
	for name, msg := range entries {
		if name == metaKey {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, corruptf("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e rawEntry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, corruptf("tensor %q: %v", name, err)
		}
		ti, err := e.validate(name, dataLen)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, ti)
	}
	sort.Slice(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return a.Name < b.Name
	})
	for i := 1; i < len(h.Tensors); i++ {
		prev, cur := h.Tensors[i-1], h.Tensors[i]
		if cur.Offset < prev.Offset+prev.Size {
			return nil, corruptf("tensors %q and %q overlap (bytes %d..%d and %d..%d)",
				prev.Name, cur.Name, prev.Offset, prev.Offset+prev.Size, cur.Offset, cur.Offset+cur.Size)
		}
	}
	return h, nil
}

func (e rawEntry) validate(name string, dataLen int64) (TensorInfo, error) {
	size := e.DType.Size()
	if size == 0 {
		return TensorInfo{}, corruptf("tensor %q has unknown dtype %q", name, e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return TensorInfo{}, corruptf("tensor %q: data_offsets must hold 2 numbers, has %d", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, corruptf("tensor %q: bad data_offsets [%d, %d]", name, begin, end)
	}
	if end > dataLen {
		return TensorInfo{}, corruptf("tensor %q: data ends at byte %d but the data section has %d bytes (truncated file?)", name, end, dataLen)
	}
	want, ok := spanBytes(e.Shape, size)
	if !ok {
		return TensorInfo{}, corruptf("tensor %q: shape %v is invalid or too large", name, e.Shape)
	}
	if want != end-begin {
		return TensorInfo{}, corruptf("tensor %q: shape %v of %s needs %d bytes but data_offsets span %d", name, e.Shape, e.DType, want, end-begin)
	}
	shape := make([]int, len(e.Shape))
	for i, s := range e.Shape {
		shape[i] = int(s)
	}
	return TensorInfo{Name: name, DType: e.DType, Shape: shape, Offset: begin, Size: end - begin}, nil
}

// spanBytes multiplies the shape by the element size, failing on negative
// dimensions or overflow.
func spanBytes(shape []int64, elem int) (int64, bool) {
	n := uint64(elem)
	for _, s := range shape {
		if s < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(s))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return int64(n), true
}

// encodeHeader renders the header JSON in the given tensor order, padded
// with spaces to a multiple of 8 bytes so the data section stays aligned
// (as the reference writer does).
func encodeHeader(meta map[string]string, tensors []TensorInfo) ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	if len(meta) > 0 {
		m, err := json.Marshal(meta)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"__metadata__":`)
		b.Write(m)
		first = false
	}
	for _, t := range tensors {
		if !first {
			b.WriteByte(',')
		}
		first = false
		name, err := json.Marshal(t.Name)
		if err != nil {
			return nil, err
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		s, _ := json.Marshal(shape)
		fmt.Fprintf(&b, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, s, t.Offset, t.Offset+t.Size)
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	out := make([]byte, 8, 8+b.Len())
	binary.LittleEndian.PutUint64(out, uint64(b.Len()))
	return append(out, b.String()...), nil
}
