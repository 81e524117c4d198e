package weights

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"unsafe"

	"ragtune/tensor"
)

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

var (
	f16Once  sync.Once
	f16Table []float32 // every half-precision bit pattern, widened
)

// f16ToF32Table widens halves through a 256 KiB table: exact (the table is
// tensor.HalfToFloat of every pattern) and branch-free, several times
// faster than converting each value.
func f16ToF32Table(dst []float32, src []uint16) {
	f16Once.Do(func() {
		f16Table = make([]float32, 1<<16)
		for i := range f16Table {
			f16Table[i] = tensor.HalfToFloat(uint16(i))
		}
	})
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = f16Table[h]
	}
}

// Float32 returns a float tensor's values as a new []float32.
func (t *Tensor) Float32() ([]float32, error) {
	out := make([]float32, t.NumElements())
	if err := t.Float32Into(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Float32Into converts a float tensor's values (F32, F16, BF16) into dst,
// which must hold exactly NumElements values. Block types are package
// quant's: quant.Float32Into decodes every type.
func (t *Tensor) Float32Into(dst []float32) error {
	n := t.NumElements()
	if len(dst) != n {
		return fmt.Errorf("tensor %q: destination holds %d values, tensor has %d", t.Name, len(dst), n)
	}
	need := func(size int) error {
		if len(t.Data) != n*size {
			return fmt.Errorf("tensor %q: %d bytes for %d %s values", t.Name, len(t.Data), n, t.DType)
		}
		return nil
	}
	switch t.DType {
	case F32:
		if err := need(4); err != nil {
			return err
		}
		if littleEndian && n > 0 {
			// The file's bytes are the values: one memmove.
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*n), t.Data)
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return nil
	case F16, BF16:
		if err := need(2); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		widen := tensor.BF16ToF32
		if t.DType == F16 {
			widen = f16ToF32Table
		}
		if littleEndian && uintptr(unsafe.Pointer(&t.Data[0]))%2 == 0 {
			widen(dst, unsafe.Slice((*uint16)(unsafe.Pointer(&t.Data[0])), n))
			return nil
		}
		const chunk = 4096
		var buf [chunk]uint16
		for lo := 0; lo < n; lo += chunk {
			hi := min(lo+chunk, n)
			for i := lo; i < hi; i++ {
				buf[i-lo] = binary.LittleEndian.Uint16(t.Data[2*i:])
			}
			widen(dst[lo:hi], buf[:hi-lo])
		}
		return nil
	}
	return fmt.Errorf("tensor %q is %s, a block type: decode it with quant.Float32Into", t.Name, t.DType)
}

// EncodeFloat32 stores values as little-endian bytes of a float dtype
// (F32, F16 or BF16), rounding to nearest even.
func EncodeFloat32(d DType, values []float32) ([]byte, error) {
	switch d {
	case F32:
		out := make([]byte, 4*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case F16, BF16:
		h := make([]uint16, len(values))
		if d == F16 {
			tensor.F32ToF16(h, values)
		} else {
			tensor.F32ToBF16(h, values)
		}
		out := make([]byte, 2*len(values))
		for i, v := range h {
			binary.LittleEndian.PutUint16(out[2*i:], v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode float32 values as %s", d)
}

// WriteAs writes a float tensor's values to w encoded as the float dtype
// to, a chunk of rows at a time, so converting a multi-gigabyte embedding
// needs only a few megabytes of buffers. Same-type tensors are copied
// unchanged (block types too); quant.WriteAs also expands block types.
func (t *Tensor) WriteAs(w io.Writer, to DType) error {
	if t.DType == to {
		_, err := w.Write(t.Data)
		return err
	}
	if to.ElementSize() == 0 {
		return fmt.Errorf("tensor %q: cannot convert %s to %s here (quantizing is 'ragtune quantize')", t.Name, t.DType, to)
	}
	rows, n := 1, t.NumElements()
	if len(t.Shape) > 1 {
		rows = t.Shape[0]
	}
	if rows == 0 || n == 0 {
		return nil
	}
	if len(t.Data)%rows != 0 || n%rows != 0 {
		return fmt.Errorf("tensor %q: %d bytes do not split into %d rows", t.Name, len(t.Data), rows)
	}
	rowBytes, rowElems := len(t.Data)/rows, n/rows
	step := max(1, (1<<20)/rowElems)
	vals := make([]float32, min(step, rows)*rowElems)
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		sub := Tensor{Name: t.Name, DType: t.DType, Shape: []int{(hi - lo) * rowElems}, Data: t.Data[lo*rowBytes : hi*rowBytes]}
		v := vals[:(hi-lo)*rowElems]
		if err := sub.Float32Into(v); err != nil {
			return err
		}
		b, err := EncodeFloat32(to, v)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
