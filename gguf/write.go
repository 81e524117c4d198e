package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"ragtune/internal/atomicfile"

	"ragtune/weights"
)

// Writer builds a GGUF v3 file. Metadata and tensors are declared in
// order; Close writes the header, then streams each tensor's bytes (from
// memory or from an AddTensorFunc callback) at its aligned offset into a
// temp file that is renamed into place only when complete.
type Writer struct {
	path string
	// Progress, when set, is called after each tensor with data bytes
	// written so far and the total.
	Progress func(done, total int64)

	keys      []string
	values    map[string]any
	tensors   []TensorInfo
	fills     []func(io.Writer) error
	names     map[string]bool
	alignment uint64
	size      uint64
	closed    bool
}

// NewWriter starts a file at path (written on Close).
func NewWriter(path string) *Writer {
	return &Writer{path: path, values: map[string]any{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// AddMetadata appends a key. The value's Go type picks the GGUF type:
// uint8 … float64, bool, string, and slices of those ([]string, []int32,
// []uint32, []float32, []uint8, []int64, …, or []any of one type). A Go
// int is written as int32 and []int as []int32, since GGUF has no
// platform int; pass uint32 where llama.cpp expects it (token ids, sizes).
// general.alignment (uint32, a power of two) also sets the alignment.
func (w *Writer) AddMetadata(key string, value any) error {
	if w.closed {
		return fmt.Errorf("GGUF writer %q: metadata %q added after Close", w.path, key)
	}
	if len(w.tensors) > 0 && key == "general.alignment" {
		return fmt.Errorf("GGUF writer: set general.alignment before adding tensors")
	}
	if _, dup := w.values[key]; dup {
		return fmt.Errorf("GGUF writer: metadata key %q added twice", key)
	}
	v, err := normalize(value)
	if err != nil {
		return fmt.Errorf("GGUF writer: metadata %q: %w", key, err)
	}
	if key == "general.alignment" {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("GGUF writer: general.alignment must be a power-of-two uint32, got %v (%T)", value, value)
		}
		w.alignment = uint64(a)
	}
	w.keys = append(w.keys, key)
	w.values[key] = v
	return nil
}

// normalize checks a value is encodable and converts Go ints.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case uint8, int8, uint16, int16, uint32, int32, float32, uint64, int64, float64, bool, string:
		return v, nil
	case int:
		if x < math.MinInt32 || x > math.MaxInt32 {
			return int64(x), nil
		}
		return int32(x), nil
	case []int:
		out := make([]int32, len(x))
		for i, e := range x {
			if e < math.MinInt32 || e > math.MaxInt32 {
				return nil, fmt.Errorf("[]int element %d does not fit int32; pass []int64", e)
			}
			out[i] = int32(e)
		}
		return out, nil
	case []string, []int32, []uint32, []float32, []uint8, []int64, []uint64, []float64, []int8, []int16, []uint16, []bool:
		return v, nil
	case []any:
		var first ValueType
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			t, err := valueType(n)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				first = t
			} else if t != first {
				return nil, fmt.Errorf("array mixes element types %d and %d", first, t)
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode a %T", v)
}

func valueType(v any) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case []string, []int32, []uint32, []float32, []uint8, []int64, []uint64, []float64, []int8, []int16, []uint16, []bool, []any:
		return TypeArray, nil
	}
	return 0, fmt.Errorf("cannot encode a %T", v)
}

// AddTensor declares a tensor whose bytes are in memory (or mapped); data
// is retained until Close. dims are in GGUF order (innermost first).
func (w *Writer) AddTensor(name string, typ weights.DType, dims []uint64, data []byte) error {
	return w.add(name, typ, dims, func(out io.Writer) error {
		_, err := out.Write(data)
		return err
	}, int64(len(data)))
}

// AddTensorFunc declares a tensor whose bytes fill writes during Close, so
// tensors can be converted or generated one at a time. fill must write
// exactly TensorBytes(typ, dims) bytes.
func (w *Writer) AddTensorFunc(name string, typ weights.DType, dims []uint64, fill func(io.Writer) error) error {
	return w.add(name, typ, dims, fill, -1)
}

func (w *Writer) add(name string, typ weights.DType, dims []uint64, fill func(io.Writer) error, have int64) error {
	if w.closed {
		return fmt.Errorf("GGUF writer %q: tensor %q added after Close", w.path, name)
	}
	if name == "" {
		return fmt.Errorf("GGUF writer: empty tensor name")
	}
	if w.names[name] {
		return fmt.Errorf("GGUF writer: tensor %q added twice", name)
	}
	tr, ok := ggmlTypes[typ]
	if !ok || !tr.writable {
		return fmt.Errorf("GGUF writer: tensor %q: cannot write type %s (writable: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K…Q6_K)", name, TypeName(typ))
	}
	size, err := TensorBytes(typ, dims)
	if err != nil {
		return fmt.Errorf("GGUF writer: tensor %q: %w", name, err)
	}
	if have >= 0 && uint64(have) != size {
		return fmt.Errorf("GGUF writer: tensor %q: %s dims %v need %d bytes, got %d", name, tr.name, dims, size, have)
	}
	w.names[name] = true
	w.size = alignUp(w.size, w.alignment)
	w.tensors = append(w.tensors, TensorInfo{Name: name, Type: typ, Dims: append([]uint64(nil), dims...), Offset: w.size})
	w.fills = append(w.fills, fill)
	w.size += size
	return nil
}

// enc appends little-endian encodings to a buffer.
type enc struct{ b []byte }

func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(s string) { e.u64(uint64(len(s))); e.b = append(e.b, s...) }

func (e *enc) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		e.b = append(e.b, x)
	case int8:
		e.b = append(e.b, byte(x))
	case uint16:
		e.b = binary.LittleEndian.AppendUint16(e.b, x)
	case int16:
		e.b = binary.LittleEndian.AppendUint16(e.b, uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	}
}

// value writes a value with its type tag.
func (e *enc) value(v any) {
	t, _ := valueType(v)
	e.u32(uint32(t))
	if t != TypeArray {
		e.scalar(v)
		return
	}
	e.array(v)
}

func arrayOf[T any](e *enc, t ValueType, xs []T) {
	e.u32(uint32(t))
	e.u64(uint64(len(xs)))
	for _, x := range xs {
		e.scalar(x)
	}
}

func (e *enc) array(v any) {
	switch x := v.(type) {
	case []string:
		arrayOf(e, TypeString, x)
	case []int32:
		arrayOf(e, TypeInt32, x)
	case []uint32:
		arrayOf(e, TypeUint32, x)
	case []float32:
		arrayOf(e, TypeFloat32, x)
	case []uint8:
		arrayOf(e, TypeUint8, x)
	case []int64:
		arrayOf(e, TypeInt64, x)
	case []uint64:
		arrayOf(e, TypeUint64, x)
	case []float64:
		arrayOf(e, TypeFloat64, x)
	case []int8:
		arrayOf(e, TypeInt8, x)
	case []int16:
		arrayOf(e, TypeInt16, x)
	case []uint16:
		arrayOf(e, TypeUint16, x)
	case []bool:
		arrayOf(e, TypeBool, x)
	case []any:
		et := TypeUint8 // an empty []any has no element type; any tag reads back empty
		if len(x) > 0 {
			et, _ = valueType(x[0])
		}
		e.u32(uint32(et))
		e.u64(uint64(len(x)))
		for _, el := range x {
			if et == TypeArray {
				e.array(el)
			} else {
				e.scalar(el)
			}
		}
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Close writes the file and renames it into place.
func (w *Writer) Close() (err error) {
	if w.closed {
		return nil
	}
	w.closed = true
	var e enc
	e.u32(Magic)
	e.u32(Version)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.keys)))
	for _, k := range w.keys {
		e.str(k)
		e.value(w.values[k])
	}
	for _, t := range w.tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	for uint64(len(e.b))%w.alignment != 0 {
		e.b = append(e.b, 0)
	}

	f, err := atomicfile.Create(w.path)
	if err != nil {
		return fmt.Errorf("write GGUF %q: %w", w.path, err)
	}
	defer func() {
		if err != nil {
			atomicfile.Abort(f)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := bw.Write(e.b); err != nil {
		return fmt.Errorf("write GGUF %q: %w", w.path, err)
	}
	var pos uint64
	zeros := make([]byte, w.alignment)
	for i, t := range w.tensors {
		if _, err := bw.Write(zeros[:t.Offset-pos]); err != nil {
			return fmt.Errorf("write GGUF %q: %w", w.path, err)
		}
		want, _ := TensorBytes(t.Type, t.Dims)
		cw := &countingWriter{w: bw}
		if err := w.fills[i](cw); err != nil {
			return fmt.Errorf("write GGUF %q: tensor %q: %w", w.path, t.Name, err)
		}
		if uint64(cw.n) != want {
			return fmt.Errorf("write GGUF %q: tensor %q: wrote %d bytes, want %d", w.path, t.Name, cw.n, want)
		}
		w.fills[i] = nil
		pos = t.Offset + want
		if w.Progress != nil {
			w.Progress(int64(pos), int64(w.size))
		}
	}
	// Pad the end too, as llama.cpp's writer does, so the file length is
	// a multiple of the alignment.
	if _, err := bw.Write(zeros[:alignUp(pos, w.alignment)-pos]); err != nil {
		return fmt.Errorf("write GGUF %q: %w", w.path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write GGUF %q: %w", w.path, err)
	}
	if err := atomicfile.Commit(f, w.path); err != nil {
		return fmt.Errorf("write GGUF %q: %w", w.path, err)
	}
	return nil
}

// Abort drops the writer without creating the file.
func (w *Writer) Abort() {
	w.closed = true
	w.fills = nil
}
