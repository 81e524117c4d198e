package quant

import (
	"fmt"
	"math"
	"sync"

	"ragtune/tensor"
	"ragtune/weights"
)

// Q8_0Matrix is a Rows×Cols weight matrix (PyTorch Linear layout) stored as
// Q8_0 blocks, row after row, as in a GGUF file. Data is used in place.
type Q8_0Matrix struct{ qmatrix }

// Q4_0Matrix is the Q4_0 counterpart of Q8_0Matrix.
type Q4_0Matrix struct{ qmatrix }

type qmatrix struct {
	data       []byte
	rows, cols int
	rowBytes   int
	dtype      weights.DType
}

// NewQ8_0Matrix wraps rows×cols Q8_0 weights without copying them (data
// may be a memory-mapped GGUF tensor). cols must be a multiple of 32.
func NewQ8_0Matrix(data []byte, rows, cols int) (*Q8_0Matrix, error) {
	q, err := newQMatrix(weights.Q8_0, data, rows, cols)
	return &Q8_0Matrix{q}, err
}

// NewQ4_0Matrix wraps rows×cols Q4_0 weights without copying them.
func NewQ4_0Matrix(data []byte, rows, cols int) (*Q4_0Matrix, error) {
	q, err := newQMatrix(weights.Q4_0, data, rows, cols)
	return &Q4_0Matrix{q}, err
}

// NewMatrix wraps a Q8_0 or Q4_0 model tensor of shape [rows, cols].
func NewMatrix(t *weights.Tensor) (tensor.Matrix, error) {
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("quant matrix %q: shape %v is not 2-D", t.Name, t.Shape)
	}
	switch t.DType {
	case weights.Q8_0:
		m, err := NewQ8_0Matrix(t.Data, t.Shape[0], t.Shape[1])
		if err != nil {
			return nil, fmt.Errorf("quant matrix %q: %w", t.Name, err)
		}
		return m, nil
	case weights.Q4_0:
		m, err := NewQ4_0Matrix(t.Data, t.Shape[0], t.Shape[1])
		if err != nil {
			return nil, fmt.Errorf("quant matrix %q: %w", t.Name, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("quant matrix %q: type %s is not Q8_0 or Q4_0", t.Name, t.DType)
}

func newQMatrix(d weights.DType, data []byte, rows, cols int) (qmatrix, error) {
	rb, err := RowBytes(d, cols)
	if err != nil {
		return qmatrix{}, err
	}
	if rows < 0 || len(data) != rows*rb {
		return qmatrix{}, fmt.Errorf("%s %d×%d matrix needs %d bytes, got %d", d, rows, cols, rows*rb, len(data))
	}
	return qmatrix{data: data, rows: rows, cols: cols, rowBytes: rb, dtype: d}, nil
}

func (m *qmatrix) Rows() int { return m.rows }
func (m *qmatrix) Cols() int { return m.cols }

// Data returns the raw blocks (rows × RowBytes).
func (m *qmatrix) Data() []byte { return m.data }

// Dequantize expands the whole matrix into dst (Rows*Cols values).
func (m *qmatrix) Dequantize(dst []float32) {
	if m.dtype == weights.Q8_0 {
		DequantizeQ8_0(dst[:m.rows*m.cols], m.data)
	} else {
		DequantizeQ4_0(dst[:m.rows*m.cols], m.data)
	}
}

// gemmMinT is the token count from which MatMul expands weight blocks to
// float32 and runs the packed float32 GEMM (tensor.MatMulDecoded): its
// register tiling does several times more multiply-adds per instruction
// than the per-block integer dot products, which only win while the
// weights are read for a few tokens.
const gemmMinT = 8

// MatMul sets out (T, Rows) = inp (T, Cols) @ W^T. For decode-sized T,
// activations are quantized to Q8_0-style int8 blocks (as llama.cpp does)
// and each weight block is loaded once per four tokens; larger T goes
// through the float32 GEMM with weights decoded block by block.
func (m *qmatrix) MatMul(out, inp []float32, T int) {
	if T <= 0 || m.rows == 0 {
		return
	}
	_ = out[T*m.rows-1]
	_ = inp[T*m.cols-1]
	if T >= gemmMinT {
		tensor.MatMulDecoded(out, inp, m, nil, T, m.cols, m.rows)
		return
	}
	op := opPool.Get().(*matOp)
	op.m, op.out, op.k, op.T = m, out, impl, T
	nb := m.cols / BlockSize
	op.xq = growI8(op.xq, T*m.cols)
	op.xd = growF32(op.xd, T*nb)
	if cap(op.xb) < T*nb*8 {
		op.xb = make([]int32, T*nb*8)
	}
	op.xb = op.xb[:T*nb*8]
	quantizeActs(op.xq, op.xd, op.xb, inp[:T*m.cols]) // T < gemmMinT: a few µs
	// Chunks of 16 rows keep the weight rows of a chunk in L2 while every
	// group of four tokens passes over them.
	tensor.Parallel(tensor.Threads(), m.rows, 16, op)
	op.m, op.out = nil, nil
	opPool.Put(op)
}

type matOp struct {
	m   *qmatrix
	k   *kernels
	out []float32
	xq  []int8
	xd  []float32
	xb  []int32
	T   int
}

var opPool = sync.Pool{New: func() any { return new(matOp) }}

func growI8(s []int8, n int) []int8 {
	if cap(s) < n {
		return make([]int8, n)
	}
	return s[:n]
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func (o *matOp) Run(_, lo, hi int) {
	m := o.m
	C, nb := m.cols, m.cols/BlockSize
	k, q4 := o.k, m.dtype == weights.Q4_0
	R, T := m.rows, o.T
	t := 0
	for ; t+4 <= T; t += 4 {
		xq, xd, xb := &o.xq[t*C], &o.xd[t*nb], &o.xb[t*nb*8]
		for r := lo; r < hi; r++ {
			var r0, r1, r2, r3 float32
			if q4 {
				r0, r1, r2, r3 = k.q4dot4(&m.data[r*m.rowBytes], xq, xd, xb, nb)
			} else {
				r0, r1, r2, r3 = k.q8dot4(&m.data[r*m.rowBytes], xq, xd, nb)
			}
			o.out[t*R+r] = r0
			o.out[(t+1)*R+r] = r1
			o.out[(t+2)*R+r] = r2
			o.out[(t+3)*R+r] = r3
		}
	}
	for ; t < T; t++ {
		xq, xd, xb := &o.xq[t*C], &o.xd[t*nb], &o.xb[t*nb*8]
		row := o.out[t*R : t*R+R]
		for r := lo; r < hi; r++ {
			if q4 {
				row[r] = k.q4dot(&m.data[r*m.rowBytes], xq, xd, xb, nb)
			} else {
				row[r] = k.q8dot(&m.data[r*m.rowBytes], xq, xd, nb)
			}
		}
	}
}

// quantizeActs quantizes activations block by block with Q8_0's rule
// (d = amax/127 rounded to f16, as llama.cpp's block_q8_0 stores it), and
// writes each block's Q4_0 bias vector into xb (8 int32: -8·Σq, then 0).
func quantizeActs(xq []int8, xd []float32, xb []int32, x []float32) {
	for b := range xd {
		v := x[b*BlockSize : b*BlockSize+BlockSize]
		q := xq[b*BlockSize : b*BlockSize+BlockSize]
		var amax float32
		for _, f := range v {
			amax = max(amax, abs32(f))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		xd[b] = tensor.HalfToFloat(tensor.FloatToHalf(d))
		var sum int32
		for j, f := range v {
			q[j] = int8(math.Round(float64(float32(f * id))))
			sum += int32(q[j])
		}
		bias := xb[b*8 : b*8+8]
		bias[0] = -8 * sum
		clear(bias[1:])
	}
}

// DecodeRows implements tensor.RowDecoder: rows [r0, r1) × columns
// [c0, c1) (block-aligned) as float32.
func (m *qmatrix) DecodeRows(dst []float32, r0, r1, c0, c1 int) {
	n := c1 - c0
	_ = dst[(r1-r0)*n-1]
	bs := Q8_0BlockBytes
	deq := impl.dequant8
	if m.dtype == weights.Q4_0 {
		bs, deq = Q4_0BlockBytes, impl.dequant4
	}
	for r := r0; r < r1; r++ {
		deq(&dst[(r-r0)*n], &m.data[r*m.rowBytes+c0/BlockSize*bs], n/BlockSize)
	}
}

// Row expands row r into dst (Cols values), for embedding lookups.
func (m *qmatrix) Row(dst []float32, r int) {
	src := m.data[r*m.rowBytes : (r+1)*m.rowBytes]
	if m.dtype == weights.Q8_0 {
		DequantizeQ8_0(dst[:m.cols], src)
	} else {
		DequantizeQ4_0(dst[:m.cols], src)
	}
}

// Loader returns a weight loader for model engines (qwen2.WithMatrixLoader):
// Q8_0 and Q4_0 tensors become Packed matrices (a repacked heap copy) on
// CPUs with AVX512-VNNI, elsewhere Q8_0Matrix/Q4_0Matrix over the stored
// blocks, used in place; K-quant tensors (Q2_K…Q6_K) become KMatrix
// (Q4_K and Q6_K interleaved into a heap copy where the CPU has their
// four-row kernels, the others over the stored blocks); Q4_1/Q5_0/Q5_1
// (fallbacks, a few tensors)
// are expanded to float32; every other type goes to fallback.
func Loader(fallback func(*weights.Tensor) (tensor.Matrix, error)) func(*weights.Tensor) (tensor.Matrix, error) {
	return func(t *weights.Tensor) (tensor.Matrix, error) {
		if IsKQuant(t.DType) {
			return loadKMatrix(t)
		}
		if t.DType == weights.Q4_1 || t.DType == weights.Q5_0 || t.DType == weights.Q5_1 {
			return loadExpanded(t)
		}
		if err := checkReadable(t); err != nil {
			// Model loaders name the tensor in their own wrapping.
			return nil, &UnsupportedTypeError{Type: t.DType}
		}
		if t.DType != weights.Q8_0 && t.DType != weights.Q4_0 {
			return fallback(t)
		}
		if PackedAvailable() && len(t.Shape) == 2 {
			m, err := NewPacked(t.DType, t.Data, t.Shape[0], t.Shape[1])
			if err != nil {
				return nil, fmt.Errorf("quant matrix %q: %w", t.Name, err)
			}
			return m, nil
		}
		return NewMatrix(t)
	}
}
