package quant

import (
	"bytes"
	"fmt"

	"ragtune/tensor"
	"ragtune/weights"
)

// slabValues bounds the float32 values QuantizeTensor decodes at a time
// (16 MB), so a 7B model's largest weight never needs a float32 copy.
var slabValues = 4 << 20 // a variable so tests can cross slab edges on small tensors

// QuantizeTensor converts a 2-D tensor of any readable type to a block type
// (or F16, llama-quantize's choice for rows no block fits). It decodes a
// slab of a few thousand rows at a time and encodes the slab's rows on all
// workers, so only the output and one float32 slab are in memory. progress,
// if not nil, is called with the number of values done after each slab.
// Blocks are those Encoder writes, so the bytes do not depend on the slab
// size or the number of workers.
func QuantizeTensor(t *weights.Tensor, to weights.DType, progress func(n int)) ([]byte, error) {
	return QuantizeTensorWeighted(t, to, nil, progress)
}

// QuantizeTensorWeighted is QuantizeTensor with importance weights qw (one
// per column, from IMatrix.Weights): the block types llama-quantize
// quantizes differently with an importance matrix use WeightedEncoder,
// the others (Q8_0, F16) ignore qw, as llama-quantize does. qw nil is
// QuantizeTensor.
func QuantizeTensorWeighted(t *weights.Tensor, to weights.DType, qw []float32, progress func(n int)) ([]byte, error) {
	if progress == nil {
		progress = func(int) {}
	}
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("quantize %q: shape %v is not 2-D", t.Name, t.Shape)
	}
	rows, cols := t.Shape[0], t.Shape[1]
	if to == weights.F16 {
		var buf bytes.Buffer
		if err := WriteAs(&buf, t, to); err != nil {
			return nil, fmt.Errorf("quantize %q: %w", t.Name, err)
		}
		progress(rows * cols)
		return buf.Bytes(), nil
	}
	rb, err := RowBytes(to, cols)
	if err != nil {
		return nil, fmt.Errorf("quantize %q: %w", t.Name, err)
	}
	enc, _, _, ok := Encoder(to)
	if !ok {
		return nil, fmt.Errorf("quantize %q: no encoder for %s", t.Name, to)
	}
	if qw != nil {
		if len(qw) != cols {
			return nil, fmt.Errorf("quantize %q: %d importance weights for %d columns", t.Name, len(qw), cols)
		}
		if wenc, ok := WeightedEncoder(to); ok {
			enc = func(dst []byte, src []float32) { wenc(dst, src, qw) }
		}
	}
	if rows == 0 {
		return nil, nil
	}
	if len(t.Data)%rows != 0 {
		return nil, fmt.Errorf("quantize %q: %d bytes do not split into %d rows", t.Name, len(t.Data), rows)
	}
	inRow := len(t.Data) / rows
	out := make([]byte, rows*rb)
	step := max(1, slabValues/cols)
	vals := make([]float32, min(step, rows)*cols)
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		sub := weights.Tensor{Name: t.Name, DType: t.DType, Shape: []int{(hi - lo) * cols}, Data: t.Data[lo*inRow : hi*inRow]}
		v := vals[:(hi-lo)*cols]
		if err := Float32Into(&sub, v); err != nil {
			return nil, fmt.Errorf("quantize %q: %w", t.Name, err)
		}
		tensor.ParallelFor(hi-lo, func(a, b int) {
			enc(out[(lo+a)*rb:(lo+b)*rb], v[a*cols:b*cols])
		})
		progress((hi - lo) * cols)
	}
	return out, nil
}
