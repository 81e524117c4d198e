package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"ragtune/internal/mmap"
	"sort"

	"ragtune/weights"
)

// File is an open GGUF file.
type File struct {
	Path    string
	Version uint32
	// Metadata holds every key's value: scalars as their Go types (uint8 …
	// float64, bool, string), arrays as []string, []int32, []uint32,
	// []float32, []uint8, []int64, or []any for other element types.
	Metadata map[string]any
	// Keys lists the metadata keys in file order.
	Keys []string
	// Tensors in file (header) order.
	Tensors   []TensorInfo
	Alignment uint64
	// DataOffset is the file offset of the tensor data section.
	DataOffset uint64

	data   []byte
	unmap  func() error
	byName map[string]int
}

// Open maps path and parses its header.
func Open(path string) (*File, error) {
	data, unmap, err := mmap.Map(path)
	if err != nil {
		return nil, fmt.Errorf("open GGUF %q: %w", path, err)
	}
	f, err := parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("open GGUF %q: %w", path, err)
	}
	f.Path, f.unmap = path, unmap
	return f, nil
}

// Parse reads a GGUF image held in memory.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse GGUF: %w", err)
	}
	return f, nil
}

// Close unmaps the file; tensor data must no longer be used.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// Tensor returns the named tensor (GGUF name, "blk.0.attn_q.weight") or an
// error wrapping weights.ErrNotFound.
func (f *File) Tensor(name string) (*TensorInfo, error) {
	i, ok := f.byName[name]
	if !ok {
		return nil, fmt.Errorf("GGUF %q: %w: %q", f.Path, weights.ErrNotFound, name)
	}
	return &f.Tensors[i], nil
}

// String returns a string metadata value.
func (f *File) String(key string) (string, bool) {
	s, ok := f.Metadata[key].(string)
	return s, ok
}

// Uint returns an integer metadata value of any integer type, if it is
// non-negative.
func (f *File) Uint(key string) (uint64, bool) {
	switch v := f.Metadata[key].(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case int8:
		return uint64(v), v >= 0
	case int16:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	}
	return 0, false
}

// Float returns a float metadata value (float32 or float64).
func (f *File) Float(key string) (float64, bool) {
	switch v := f.Metadata[key].(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// reader is a bounds-checked cursor over the header bytes. Every read
// checks the remaining length first, so no count from the file can make it
// allocate more than the file holds.
type reader struct {
	b   []byte
	off uint64
	err error
}

func (r *reader) remaining() uint64 { return uint64(len(r.b)) - r.off }

func (r *reader) take(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > r.remaining() {
		r.err = corruptf("%s needs %d bytes at offset %d but only %d remain (truncated file?)", what, n, r.off, r.remaining())
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8(what string) uint8 {
	if b := r.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if b := r.take(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if b := r.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str(what string) string {
	n := r.u64(what + " length")
	if r.err != nil {
		return ""
	}
	if n > r.remaining() {
		r.err = corruptf("%s of %d bytes at offset %d runs past the end of the file", what, n, r.off-8)
		return ""
	}
	return string(r.take(n, what))
}

// maxArrayDepth bounds nested arrays so a crafted file cannot recurse
// deeply.
const maxArrayDepth = 4

func (r *reader) value(t ValueType, what string, depth int) any {
	switch t {
	case TypeUint8:
		return r.u8(what)
	case TypeInt8:
		return int8(r.u8(what))
	case TypeUint16:
		return r.u16(what)
	case TypeInt16:
		return int16(r.u16(what))
	case TypeUint32:
		return r.u32(what)
	case TypeInt32:
		return int32(r.u32(what))
	case TypeFloat32:
		return math.Float32frombits(r.u32(what))
	case TypeUint64:
		return r.u64(what)
	case TypeInt64:
		return int64(r.u64(what))
	case TypeFloat64:
		return math.Float64frombits(r.u64(what))
	case TypeBool:
		v := r.u8(what)
		if r.err == nil && v > 1 {
			r.err = corruptf("%s: bool value %d", what, v)
		}
		return v == 1
	case TypeString:
		return r.str(what)
	case TypeArray:
		if depth >= maxArrayDepth {
			r.err = corruptf("%s: arrays nested deeper than %d", what, maxArrayDepth)
			return nil
		}
		return r.array(what, depth+1)
	}
	if r.err == nil {
		r.err = corruptf("%s: unknown value type %d", what, t)
	}
	return nil
}

func (r *reader) array(what string, depth int) any {
	et := ValueType(r.u32(what + " element type"))
	n := r.u64(what + " length")
	if r.err != nil {
		return nil
	}
	// Every element takes at least one byte (strings eight), so a count
	// larger than the remaining bytes is corrupt; checking first keeps a
	// crafted count from allocating.
	minSize := uint64(et.scalarSize())
	switch et {
	case TypeString, TypeArray:
		minSize = 8
	}
	if minSize == 0 {
		r.err = corruptf("%s: unknown array element type %d", what, et)
		return nil
	}
	if n > r.remaining()/minSize {
		r.err = corruptf("%s: array of %d elements runs past the end of the file", what, n)
		return nil
	}
	switch et {
	case TypeString:
		out := make([]string, n)
		for i := range out {
			out[i] = r.str(what)
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(r.u32(what))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = r.u32(what)
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(r.u32(what))
		}
		return out
	case TypeUint8:
		return append([]uint8(nil), r.take(n, what)...)
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(r.u64(what))
		}
		return out
	}
	out := make([]any, n)
	for i := range out {
		out[i] = r.value(et, what, depth)
		if r.err != nil {
			return nil
		}
	}
	return out
}

func parse(data []byte) (*File, error) {
	r := &reader{b: data}
	magic := r.u32("magic")
	if r.err != nil {
		return nil, corruptf("file is %d bytes, too short for a GGUF header", len(data))
	}
	if magic != Magic {
		return nil, corruptf("bad magic %q, not a GGUF file", data[:4])
	}
	f := &File{Version: r.u32("version"), Metadata: map[string]any{}, Alignment: DefaultAlignment}
	switch {
	case r.err != nil:
		return nil, r.err
	case f.Version == 2 || f.Version == 3:
	case f.Version == 1:
		return nil, fmt.Errorf("GGUF version 1 is not supported (only 2 and 3): re-convert the model with a current llama.cpp")
	case f.Version&0xffff == 0 && f.Version != 0:
		return nil, fmt.Errorf("GGUF version %d looks byte-swapped: big-endian GGUF files are not supported", f.Version)
	default:
		return nil, corruptf("unsupported GGUF version %d (supported: 2, 3)", f.Version)
	}
	nTensors := r.u64("tensor count")
	nKV := r.u64("metadata count")
	if r.err != nil {
		return nil, r.err
	}
	// A key/value takes at least 8+4+1 bytes, a tensor description 8+4+8+4+8.
	if nKV > r.remaining()/13 {
		return nil, corruptf("metadata count %d is larger than the file can hold", nKV)
	}
	if nTensors > r.remaining()/32 {
		return nil, corruptf("tensor count %d is larger than the file can hold", nTensors)
	}
	f.Keys = make([]string, 0, nKV)
	for i := uint64(0); i < nKV; i++ {
		key := r.str(fmt.Sprintf("metadata key %d", i))
		t := ValueType(r.u32("value type of " + key))
		v := r.value(t, fmt.Sprintf("metadata %q", key), 0)
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := f.Metadata[key]; dup {
			return nil, corruptf("metadata key %q appears twice", key)
		}
		f.Metadata[key] = v
		f.Keys = append(f.Keys, key)
	}
	if a, ok := f.Metadata["general.alignment"]; ok {
		v, isU32 := a.(uint32)
		if !isU32 || v == 0 || v&(v-1) != 0 {
			return nil, corruptf("general.alignment must be a power-of-two uint32, got %v (%T)", a, a)
		}
		f.Alignment = uint64(v)
	}
	f.Tensors = make([]TensorInfo, nTensors)
	f.byName = make(map[string]int, nTensors)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		t.Name = r.str(fmt.Sprintf("tensor %d name", i))
		nd := r.u32("dimension count of " + t.Name)
		if r.err == nil && nd > MaxDims {
			return nil, corruptf("tensor %q has %d dimensions, ggml allows at most %d", t.Name, nd, MaxDims)
		}
		t.Dims = make([]uint64, nd)
		for j := range t.Dims {
			t.Dims[j] = r.u64("dimensions of " + t.Name)
		}
		t.Type = weights.DType(r.u32("type of " + t.Name))
		t.Offset = r.u64("offset of " + t.Name)
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, corruptf("tensor %q appears twice", t.Name)
		}
		f.byName[t.Name] = i
	}
	f.DataOffset = alignUp(r.off, f.Alignment)
	if f.DataOffset > uint64(len(data)) {
		if len(f.Tensors) > 0 {
			return nil, corruptf("data section starts at %d, past the end of the %d-byte file (truncated?)", f.DataOffset, len(data))
		}
		f.DataOffset = uint64(len(data))
	}
	dataLen := uint64(len(data)) - f.DataOffset
	spans := make([]int, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		size, err := TensorBytes(t.Type, t.Dims)
		if err != nil {
			return nil, corruptf("tensor %q: %v", t.Name, err)
		}
		if t.Offset%f.Alignment != 0 {
			return nil, corruptf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > dataLen || size > dataLen-t.Offset {
			return nil, corruptf("tensor %q: bytes %d..%d lie past the end of the %d-byte data section (truncated file?)", t.Name, t.Offset, t.Offset+size, dataLen)
		}
		start := f.DataOffset + t.Offset
		t.Data = data[start : start+size : start+size]
		spans[i] = i
	}
	sort.Slice(spans, func(a, b int) bool { return f.Tensors[spans[a]].Offset < f.Tensors[spans[b]].Offset })
	for k := 1; k < len(spans); k++ {
		prev, cur := &f.Tensors[spans[k-1]], &f.Tensors[spans[k]]
		if cur.Offset < prev.Offset+uint64(len(prev.Data)) {
			return nil, corruptf("tensors %q and %q overlap", prev.Name, cur.Name)
		}
	}
	f.data = data
	return f, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// ReleasePages tells the kernel the process is done with data, a tensor's
// bytes from this file, for now: a streaming conversion then does not keep
// the whole file resident. The bytes stay readable (they fault back in from
// the file). Data not from this file's mapping is ignored.
func (f *File) ReleasePages(data []byte) { mmap.ReleasePages(f.data, data) }
