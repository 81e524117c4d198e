package quant

import (
	"fmt"
	"io"

	"ragtune/weights"
)

// dequantizer returns the row decoder of a block type, or nil for the
// float types (which package weights decodes) and types ragtune cannot
// read.
func dequantizer(d weights.DType) (fn func(dst []float32, src []byte), block, blockBytes int) {
	switch d {
	case weights.Q8_0:
		return DequantizeQ8_0, BlockSize, Q8_0BlockBytes
	case weights.Q4_0:
		return DequantizeQ4_0, BlockSize, Q4_0BlockBytes
	case weights.Q4_1:
		return DequantizeQ4_1, BlockSize, Q4_1BlockBytes
	case weights.Q5_0:
		return DequantizeQ5_0, BlockSize, Q5_0BlockBytes
	case weights.Q5_1:
		return DequantizeQ5_1, BlockSize, Q5_1BlockBytes
	}
	if k, ok := kTypeOf(d); ok {
		return k.dequant, QK_K, k.blockBytes
	}
	return nil, 0, 0
}

// Float32Into decodes a tensor of any type ragtune reads (F32, F16, BF16,
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K…Q6_K) into dst, which must hold exactly NumElements values.
// It is the one decoder for callers that may meet a quantized GGUF; the
// float types go through weights.Tensor.Float32Into.
func Float32Into(t *weights.Tensor, dst []float32) error {
	if err := checkReadable(t); err != nil {
		return err
	}
	fn, block, blockBytes := dequantizer(t.DType)
	if fn == nil {
		return t.Float32Into(dst)
	}
	n := t.NumElements()
	if len(dst) != n {
		return fmt.Errorf("tensor %q: destination holds %d values, tensor has %d", t.Name, len(dst), n)
	}
	if n%block != 0 || len(t.Data) != n/block*blockBytes {
		return fmt.Errorf("tensor %q: %d bytes for %d %s values; the file is truncated or corrupt", t.Name, len(t.Data), n, t.DType)
	}
	if n > 0 {
		fn(dst, t.Data)
	}
	return nil
}

// Float32 is Float32Into into a new slice.
func Float32(t *weights.Tensor) ([]float32, error) {
	out := make([]float32, t.NumElements())
	if err := Float32Into(t, out); err != nil {
		return nil, err
	}
	return out, nil
}

// WriteAs is weights.Tensor.WriteAs for every type Float32Into reads: a
// block-type tensor is expanded a chunk of rows at a time, so converting a
// quantized GGUF to F32/F16/BF16 needs only a few megabytes of buffers.
func WriteAs(w io.Writer, t *weights.Tensor, to weights.DType) error {
	if err := checkReadable(t); err != nil {
		return err
	}
	fn, block, blockBytes := dequantizer(t.DType)
	if fn == nil || t.DType == to {
		return t.WriteAs(w, to)
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
	cols := n / rows
	if n%rows != 0 || cols%block != 0 || len(t.Data) != n/block*blockBytes {
		return fmt.Errorf("tensor %q: %d bytes do not split into %d rows of %s blocks", t.Name, len(t.Data), rows, t.DType)
	}
	rowBytes := cols / block * blockBytes
	step := max(1, (1<<20)/cols)
	vals := make([]float32, min(step, rows)*cols)
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		v := vals[:(hi-lo)*cols]
		fn(v, t.Data[lo*rowBytes:hi*rowBytes])
		b, err := weights.EncodeFloat32(to, v)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
