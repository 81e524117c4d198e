package qwen2

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"ragtune/tensor"
	"ragtune/weights"
)

// MatrixLoader turns a stored projection weight (OC, C) into a
// tensor.Matrix. Quantized formats plug in here: a loader handles the
// dtypes it knows (Q8_0, Q4_0) and passes the rest to DefaultMatrix.
type MatrixLoader func(t *weights.Tensor) (tensor.Matrix, error)

// RowReader is implemented by matrices that can hand out one row as
// float32. A quantized token-embedding table must implement it, because
// the embedding lookup reads single rows rather than multiplying.
type RowReader interface {
	Row(dst []float32, r int)
}

// DefaultMatrix is the loader New uses unless told otherwise: F32 weights
// as float32 (in place), BF16 kept in 16 bits (HalfMatrix), F16 widened to
// float32 at load. Kept BF16 takes half the memory (a 7B model fits in
// 24 GiB only this way) and decodes faster, since decode streams every
// weight once per token; prefill pays for widening slabs (see
// docs/BENCHMARKS.md). F16 is widened at load because widening it in the
// loop has no SIMD kernel yet and would be ~50× slower than the matmul.
// Pass WithMatrixLoader(F32Matrix) to widen everything at load, or
// WithMatrixLoader(HalfMatrix) to keep F16 too.
func DefaultMatrix(t *weights.Tensor) (tensor.Matrix, error) {
	if t.DType == weights.BF16 {
		return HalfMatrix(t)
	}
	return F32Matrix(t)
}

// F32Matrix converts F32, F16 and BF16 weights to a float32 matrix once,
// at load, in the Go heap (see toF32 for why even F32 is copied).
func F32Matrix(t *weights.Tensor) (tensor.Matrix, error) {
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("tensor %q: want a 2-D weight, got shape %v", t.Name, t.Shape)
	}
	data, err := toF32(t)
	if err != nil {
		return nil, err
	}
	return &tensor.F32Matrix{Data: data, R: t.Shape[0], C: t.Shape[1]}, nil
}

// HalfMatrix keeps F16 and BF16 weights in their stored 16-bit form (a
// heap copy, see toF32) and widens them inside MatMul: decode streams half the bytes of F32Matrix,
// prefill widens slabs of rows for the float32 GEMM. Other dtypes go to
// F32Matrix.
func HalfMatrix(t *weights.Tensor) (tensor.Matrix, error) {
	if (t.DType != weights.BF16 && t.DType != weights.F16) || len(t.Shape) != 2 {
		return F32Matrix(t)
	}
	if err := checkBytes(t, 2); err != nil {
		return nil, err
	}
	return &Half16Matrix{Data: u16Copy(t.Data), R: t.Shape[0], C: t.Shape[1], BF16: t.DType == weights.BF16}, nil
}

// Half16Matrix is a row-major (R, C) matrix of BF16 or F16 values.
type Half16Matrix struct {
	Data []uint16 // (R, C)
	R, C int
	BF16 bool // false: IEEE F16
}

func (m *Half16Matrix) Rows() int { return m.R }
func (m *Half16Matrix) Cols() int { return m.C }

// halfChunk is how many weights the matrix-vector path widens at a time
// onto the stack; each widened chunk is reused for all T input rows.
const halfChunk = 512

// halfSlab bounds the widened float32 copy the prefill path makes (64 MiB):
// a slab of rows is widened once and multiplied with the packed GEMM, so
// prefill runs at float32 GEMM speed while the weights stay 16-bit.
var halfSlab = 1 << 24 // a variable so tests can force several slabs

// halfMatVecMaxT is the largest T that streams the 16-bit rows directly
// (decode), where the bandwidth saved beats the GEMM.
const halfMatVecMaxT = 3

type halfScratch struct{ w, o []float32 }

var halfPool = sync.Pool{New: func() any { return new(halfScratch) }}

func growF32(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// MatMul sets out (T, R) = inp (T, C) @ W^T.
func (m *Half16Matrix) MatMul(out, inp []float32, T int) {
	R, C := m.R, m.C
	_ = out[T*R-1]
	_ = inp[T*C-1]
	if T <= halfMatVecMaxT {
		m.matVec(out, inp, T)
		return
	}
	s := halfPool.Get().(*halfScratch)
	defer halfPool.Put(s)
	rows := max(1, min(R, halfSlab/C))
	for j0 := 0; j0 < R; j0 += rows {
		n := min(rows, R-j0)
		w := growF32(&s.w, n*C)
		tensor.ParallelFor(n, func(lo, hi int) {
			m.widen(w[lo*C:hi*C], m.Data[(j0+lo)*C:(j0+hi)*C])
		})
		if n == R {
			tensor.MatMul(out, inp, w, nil, T, C, R)
			continue
		}
		o := growF32(&s.o, T*n)
		tensor.MatMul(o, inp, w, nil, T, C, n)
		for t := 0; t < T; t++ {
			copy(out[t*R+j0:t*R+j0+n], o[t*n:t*n+n])
		}
	}
}

func (m *Half16Matrix) widen(dst []float32, src []uint16) {
	if m.BF16 {
		tensor.BF16ToF32(dst, src)
	} else {
		tensor.F16ToF32(dst, src)
	}
}

// matVec streams each 16-bit row once, widening it in stack-sized chunks.
func (m *Half16Matrix) matVec(out, inp []float32, T int) {
	op := matVecPool.Get().(*halfMatVec)
	*op = halfMatVec{m: m, out: out, inp: inp, T: T}
	tensor.ParallelSplit(m.R, op)
	*op = halfMatVec{}
	matVecPool.Put(op)
}

// halfMatVec is one matVec call as a pool Task (no per-token closure).
type halfMatVec struct {
	m        *Half16Matrix
	out, inp []float32
	T        int
}

var matVecPool = sync.Pool{New: func() any { return new(halfMatVec) }}

func (op *halfMatVec) Run(_, lo, hi int) {
	m, out, inp, T := op.m, op.out, op.inp, op.T
	R, C := m.R, m.C
	var buf [halfChunk]float32
	for j := lo; j < hi; j++ {
		row := m.Data[j*C : j*C+C]
		for t := 0; t < T; t++ {
			out[t*R+j] = 0
		}
		for k0 := 0; k0 < C; k0 += halfChunk {
			n := min(halfChunk, C-k0)
			w := buf[:n]
			m.widen(w, row[k0:k0+n])
			for t := 0; t < T; t++ {
				out[t*R+j] += tensor.Dot(w, inp[t*C+k0:t*C+k0+n])
			}
		}
	}
}

// Row widens row r into dst (C).
func (m *Half16Matrix) Row(dst []float32, r int) {
	m.widen(dst[:m.C], m.Data[r*m.C:r*m.C+m.C])
}

// f32Rows is a float32 (R, C) table that hands out rows (embeddings).
type f32Rows struct {
	data []float32
	C    int
}

func (e f32Rows) Row(dst []float32, r int) { copy(dst, e.data[r*e.C:r*e.C+e.C]) }

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func checkBytes(t *weights.Tensor, elem int) error {
	if want := t.NumElements() * elem; len(t.Data) != want {
		return fmt.Errorf("tensor %q (%s, shape %v): %d bytes, want %d; the file is truncated or corrupt", t.Name, t.DType, t.Shape, len(t.Data), want)
	}
	return nil
}

// toF32 returns a copy of t's values as float32.
//
// Weights are copied out of the tensor source (usually a memory-mapped
// file) into the Go heap on purpose: on the project's 24 GiB machine under
// memory pressure, decode from the mapped file measured 2-3× more CPU time
// and 4× more wall time per token than from a heap copy (the kernel ages
// and unmaps file pages, and each re-touch costs a fault and TLB flush),
// while anonymous memory stays put.
func toF32(t *weights.Tensor) ([]float32, error) {
	switch t.DType {
	case weights.F32:
		if err := checkBytes(t, 4); err != nil {
			return nil, err
		}
		out := make([]float32, len(t.Data)/4)
		if littleEndian && len(out) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(t.Data)), t.Data)
			return out, nil
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case weights.BF16, weights.F16:
		if err := checkBytes(t, 2); err != nil {
			return nil, err
		}
		out := make([]float32, t.NumElements())
		if t.DType == weights.BF16 {
			tensor.BF16ToF32(out, u16Copy(t.Data))
		} else {
			tensor.F16ToF32(out, u16Copy(t.Data))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q has dtype %s; only F32, F16 and BF16 load without a quantization loader (pass qwen2.WithMatrixLoader for Q8_0/Q4_0)", t.Name, t.DType)
}

// u16Copy returns little-endian 16-bit data as a new []uint16 (see toF32
// for why weights are copied).
func u16Copy(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	if littleEndian && len(out) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 2*len(out)), b)
		return out
	}
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}
