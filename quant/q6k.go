package quant

import (
	"fmt"

	"ragtune/tensor"
	"ragtune/weights"
)

// Q6_K is read so that llama.cpp's own files run: llama-quantize stores a
// Q4_0 model's output head (and other k-quant mixes some tensors) as Q6_K.
// ragtune does not write it.
const (
	Q6_KBlockSize  = 256
	Q6_KBlockBytes = 210 // ql[128] low 4 bits, qh[64] high 2 bits, 16 int8 scales, f16 d
)

// DequantizeQ6_K expands len(dst) values (a multiple of 256) as ggml's
// dequantize_row_q6_K does: each 6-bit q (4 low bits in ql, 2 high bits
// in qh) minus 32, times the block's f16 d times its 16-value sub-block's
// int8 scale.
func DequantizeQ6_K(dst []float32, src []byte) {
	nb := len(dst) / Q6_KBlockSize
	_ = src[nb*Q6_KBlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q6_KBlockBytes : (i+1)*Q6_KBlockBytes]
		ql, qh, sc := b[:128], b[128:192], b[192:208]
		d := getHalf(b[208:])
		y := dst[i*Q6_KBlockSize : (i+1)*Q6_KBlockSize]
		// Two halves of 128 values; within a half, value l, l+32, l+64
		// and l+96 share ql[l] / ql[l+32] nibbles and one qh byte.
		for h := 0; h < 2; h++ {
			ql, qh, sc, y := ql[64*h:], qh[32*h:], sc[8*h:], y[128*h:]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				y[l] = d * float32(int8(sc[is])) * float32(q1)
				y[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				y[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				y[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}

// requantizeQ8_0 turns a 2-D tensor of another block type (Q6_K) into
// Q8_0 blocks, a few rows at a time so no float32 copy of the whole matrix
// is made. Q8_0's error (~0.4% of a block's largest value) is small next
// to Q6_K's own, and the matrix then runs on the Q8_0 kernels.
func requantizeQ8_0(t *weights.Tensor, rows, cols int) ([]byte, error) {
	if cols%BlockSize != 0 {
		return nil, fmt.Errorf("%s tensor %q: %d columns are not a multiple of %d", t.DType, t.Name, cols, BlockSize)
	}
	if t.DType != weights.Q6_K || cols%Q6_KBlockSize != 0 {
		return nil, fmt.Errorf("tensor %q: type %s is not supported (ragtune runs F32, F16, BF16, Q8_0, Q4_0, and Q6_K rows of a multiple of 256)", t.Name, t.DType)
	}
	srcRow := cols / Q6_KBlockSize * Q6_KBlockBytes
	if len(t.Data) != rows*srcRow {
		return nil, fmt.Errorf("Q6_K tensor %q: %d bytes, want %d; the file is truncated or corrupt", t.Name, len(t.Data), rows*srcRow)
	}
	dstRow := cols / BlockSize * Q8_0BlockBytes
	out := make([]byte, rows*dstRow)
	tensor.ParallelFor(rows, func(lo, hi int) {
		buf := make([]float32, cols)
		for r := lo; r < hi; r++ {
			DequantizeQ6_K(buf, t.Data[r*srcRow:(r+1)*srcRow])
			QuantizeQ8_0(out[r*dstRow:(r+1)*dstRow], buf)
		}
	})
	return out, nil
}
