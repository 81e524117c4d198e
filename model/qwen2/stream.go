package qwen2

import (
	"io"

	"ragtune/quant"
	"ragtune/weights"
)

// quantSlabBytes is how much of a source tensor quantizeInSlabs and
// writeAsInSlabs read before they drop those pages again.
const quantSlabBytes = 64 << 20

// quantizeInSlabs quantizes t (2-D) slabBytes of source rows at a time,
// dropping each slab's pages from src's mapping once its blocks are made:
// otherwise a 128256×8192 embedding or head (2.1 GB in BF16) would be
// resident whole next to its quantized copy. Rows are quantized
// independently, so the blocks are the same bytes as in one call.
func quantizeInSlabs(src weights.Source, t *weights.Tensor, to weights.DType, qw []float32, progress func(int), slabBytes int) ([]byte, error) {
	if len(t.Shape) != 2 || t.Shape[0] == 0 || len(t.Data)%t.Shape[0] != 0 {
		return quant.QuantizeTensorWeighted(t, to, qw, progress) // its errors
	}
	rows, cols := t.Shape[0], t.Shape[1]
	inRow := len(t.Data) / rows
	step := max(1, slabBytes/max(1, inRow))
	var out []byte
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		sub := &weights.Tensor{Name: t.Name, DType: t.DType, Shape: []int{hi - lo, cols}, Data: t.Data[lo*inRow : hi*inRow]}
		b, err := quant.QuantizeTensorWeighted(sub, to, qw, progress)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make([]byte, 0, len(b)/(hi-lo)*rows)
		}
		out = append(out, b...)
		weights.ReleasePages(src, sub)
	}
	return out, nil
}

// writeAsInSlabs is quant.WriteAs (t converted to target) slabBytes of
// source rows at a time, dropping each slab's mapped pages once written,
// so converting a 128256×8192 embedding keeps 64 MiB of it resident
// rather than 2.1 GB. Vectors and tensors whose bytes do not split into
// whole rows are written in one call.
func writeAsInSlabs(out io.Writer, src weights.Source, t *weights.Tensor, target weights.DType, slabBytes int) error {
	if len(t.Shape) < 2 || t.Shape[0] == 0 || len(t.Data)%t.Shape[0] != 0 {
		defer weights.ReleasePages(src, t)
		return quant.WriteAs(out, t, target)
	}
	rows := t.Shape[0]
	inRow := len(t.Data) / rows
	step := max(1, slabBytes/max(1, inRow))
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		shape := append([]int{hi - lo}, t.Shape[1:]...)
		sub := &weights.Tensor{Name: t.Name, DType: t.DType, Shape: shape, Data: t.Data[lo*inRow : hi*inRow]}
		if err := quant.WriteAs(out, sub, target); err != nil {
			return err
		}
		weights.ReleasePages(src, sub)
	}
	return nil
}
