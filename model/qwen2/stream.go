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
	var out []byte
	err := inSlabs(src, t, slabBytes, func(sub *weights.Tensor) error {
		b, err := quant.QuantizeTensorWeighted(sub, to, qw, progress)
		if err != nil {
			return err
		}
		if out == nil {
			out = make([]byte, 0, len(b)/sub.Shape[0]*t.Shape[0])
		}
		out = append(out, b...)
		return nil
	})
	if err != nil {
		return nil, err
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
	return inSlabs(src, t, slabBytes, func(sub *weights.Tensor) error {
		return quant.WriteAs(out, sub, target)
	})
}

// inSlabs calls fn on t's rows slabBytes at a time (whole rows, at least
// one per slab), in order, dropping each slab's mapped pages from src once
// fn is done with it. t has at least one row and whole rows of bytes.
func inSlabs(src weights.Source, t *weights.Tensor, slabBytes int, fn func(sub *weights.Tensor) error) error {
	rows := t.Shape[0]
	inRow := len(t.Data) / rows
	step := max(1, slabBytes/max(1, inRow))
	for lo := 0; lo < rows; lo += step {
		hi := min(lo+step, rows)
		shape := append([]int{hi - lo}, t.Shape[1:]...)
		sub := &weights.Tensor{Name: t.Name, DType: t.DType, Shape: shape, Data: t.Data[lo*inRow : hi*inRow]}
		if err := fn(sub); err != nil {
			return err
		}
		weights.ReleasePages(src, sub)
	}
	return nil
}
