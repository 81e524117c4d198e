package train

import (
	"fmt"
	"strings"

	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/weights"
)

// A LoRA run never updates the base projections, and backward needs only
// dinp = dout·W from them, never dW. So they can stay compressed — BF16
// (exact for BF16 checkpoints, half the memory of float32) or Q8_0/Q4_0
// blocks (QLoRA-style) — and be decoded block by block inside the matrix
// multiplies. Embeddings, norms and biases stay float32.

// BaseDTypes are the storage types LoadFrozenBase accepts.
var BaseDTypes = []string{"f32", "bf16", "q8_0", "q4_0"}

// Frozen maps HF weight names (the seven projections of every layer, and
// an untied lm_head) to compressed storage.
type Frozen map[string]tensor.RowDecoder

// bf16Rows is a row-major BF16 matrix readable as float32 rows.
type bf16Rows struct {
	data       []uint16
	rows, cols int
}

func (m *bf16Rows) DecodeRows(dst []float32, r0, r1, c0, c1 int) {
	n := c1 - c0
	for r := r0; r < r1; r++ {
		tensor.BF16ToF32(dst[(r-r0)*n:(r-r0+1)*n], m.data[r*m.cols+c0:r*m.cols+c1])
	}
}

// frozenName reports whether an HF weight may be held compressed.
func frozenName(n string, cfg *qwen2.Config) bool {
	if n == "lm_head.weight" {
		return !cfg.TieWordEmbeddings
	}
	return strings.HasSuffix(n, "_proj.weight")
}

// LoadFrozenBase reads src like LoadBase but keeps the projection weights
// (and an untied lm_head) in dtype ("bf16", "q8_0" or "q4_0"), converting
// one tensor at a time so peak memory stays near the compressed size. The
// ParamSet holds everything else in float32. Use with NewLoRAModel.
func LoadFrozenBase(src weights.Source, cfg *qwen2.Config, dtype string) (*ParamSet, Frozen, error) {
	names, shapes := BaseNames(cfg)
	var keepN []string
	var keepS [][]int
	for i, n := range names {
		if !frozenName(n, cfg) {
			keepN, keepS = append(keepN, n), append(keepS, shapes[i])
		}
	}
	p := NewParamSet(keepN, keepS)
	fr := Frozen{}
	for i, n := range names {
		t, err := src.Tensor(n)
		if err != nil {
			return nil, nil, fmt.Errorf("load base weights: %w", err)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(shapes[i]) {
			return nil, nil, fmt.Errorf("load base weights: %s has shape %v, config.json implies %v", n, t.Shape, shapes[i])
		}
		if !frozenName(n, cfg) {
			if err := quant.Float32Into(t, p.Get(n)); err != nil {
				return nil, nil, fmt.Errorf("load base weights: %w", err)
			}
			continue
		}
		rows, cols := shapes[i][0], shapes[i][1]
		if dtype == "bf16" && t.DType == weights.BF16 {
			d := make([]uint16, rows*cols)
			for j := range d {
				d[j] = uint16(t.Data[2*j]) | uint16(t.Data[2*j+1])<<8
			}
			fr[n] = &bf16Rows{d, rows, cols}
			continue
		}
		f, err := quant.Float32(t)
		if err != nil {
			return nil, nil, fmt.Errorf("load base weights: %w", err)
		}
		dec, err := compress(f, rows, cols, dtype)
		if err != nil {
			return nil, nil, fmt.Errorf("load base weights: %s: %w", n, err)
		}
		fr[n] = dec
	}
	return p, fr, nil
}

// compress stores a float32 matrix as dtype.
func compress(f []float32, rows, cols int, dtype string) (tensor.RowDecoder, error) {
	switch dtype {
	case "bf16":
		d := make([]uint16, len(f))
		tensor.F32ToBF16(d, f)
		return &bf16Rows{d, rows, cols}, nil
	case "q8_0", "q4_0":
		if cols%quant.BlockSize != 0 {
			return nil, fmt.Errorf("%d columns are not a multiple of the %d-weight block; use --base-dtype bf16", cols, quant.BlockSize)
		}
		dt := weights.Q8_0
		if dtype == "q4_0" {
			dt = weights.Q4_0
		}
		nb, err := quant.RowBytes(dt, len(f))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, nb)
		if _, err := quant.Quantize(dt, buf, f); err != nil {
			return nil, err
		}
		if dt == weights.Q8_0 {
			return quant.NewQ8_0Matrix(buf, rows, cols)
		}
		return quant.NewQ4_0Matrix(buf, rows, cols)
	}
	return nil, fmt.Errorf("base dtype %q is not one of %v", dtype, BaseDTypes)
}

// frozenRows is how many weight rows decodedBackwardInput decodes at once.
const frozenRows = 128

// decodedBackwardInput accumulates dinp (T, C) += dout (T, OC) · W for a
// compressed W (OC, C), decoding frozenRows rows at a time.
func (m *Model) decodedBackwardInput(dinp, dout []float32, dec tensor.RowDecoder, T, C, OC int) {
	s := &m.scratch
	w := grow(&s.decW, frozenRows*C)
	d := grow(&s.decOut, T*frozenRows)
	for o0 := 0; o0 < OC; o0 += frozenRows {
		n := min(frozenRows, OC-o0)
		tensor.ParallelFor(n, func(lo, hi int) {
			dec.DecodeRows(w[lo*C:hi*C], o0+lo, o0+hi, 0, C)
		})
		for t := 0; t < T; t++ {
			copy(d[t*n:t*n+n], dout[t*OC+o0:t*OC+o0+n])
		}
		tensor.MatMulBackward(dinp, nil, nil, d[:T*n], nil, w[:n*C], T, C, n)
	}
}
