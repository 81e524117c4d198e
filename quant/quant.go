// Package quant holds ggml's block formats — Q8_0 and Q4_0, the K-quants
// Q2_K…Q6_K and the Q4_1/Q5_0/Q5_1 fallbacks: quantizing and dequantizing rows
// bit-for-bit as llama.cpp's reference quantizers do, llama-quantize's
// per-tensor type choices for each mix (Mix), and weight matrices
// (Q8_0Matrix, Q4_0Matrix, Packed, KMatrix) that implement tensor.Matrix by
// streaming the quantized blocks against activations quantized on the fly,
// so a model runs from a GGUF file's blocks, used in place from the mapped
// file or reordered once at load for the kernels, never expanded.
//
// Importance matrices (IMatrix, llama-imatrix's imatrix.dat file, and the
// IMatrixCollector that gathers one) weigh the quantizers' error as
// llama-quantize --imatrix does (WeightedEncoder), byte for byte.
//
// It is not a general quantization library: no IQ/TQ types, no quantized
// activations outside a matrix product.
package quant

import (
	"fmt"
	"math"

	"ragtune/tensor"
	"ragtune/weights"
)

// BlockSize is the number of weights sharing one scale in both formats.
const BlockSize = 32

// Bytes per block: an f16 scale d, then 32 int8 (Q8_0) or 16 bytes of
// nibbles (Q4_0: byte j holds weight j in its low nibble and weight j+16 in
// its high nibble, each stored as q+8).
const (
	Q8_0BlockBytes = 34
	Q4_0BlockBytes = 18
)

// RowBytes returns the bytes of n weights in block format d (n a multiple
// of the format's block), or an error for other types or lengths.
func RowBytes(d weights.DType, n int) (int, error) {
	_, block, bytes, ok := Encoder(d)
	if !ok {
		return 0, fmt.Errorf("quant: %s is not a block-quantized type ragtune writes", d)
	}
	if n%block != 0 {
		return 0, fmt.Errorf("%s needs rows of a multiple of %d weights, got %d", d, block, n)
	}
	return n / block * bytes, nil
}

// Quantize encodes src (a multiple of BlockSize values) into dst in format d
// and returns the bytes written.
func Quantize(d weights.DType, dst []byte, src []float32) (int, error) {
	n, err := RowBytes(d, len(src))
	if err != nil {
		return 0, err
	}
	if len(dst) < n {
		return 0, fmt.Errorf("quant: %s of %d values needs %d bytes, have %d", d, len(src), n, len(dst))
	}
	enc, _, _, _ := Encoder(d)
	enc(dst, src)
	return n, nil
}

func putHalf(b []byte, f float32) {
	h := tensor.FloatToHalf(f)
	b[0], b[1] = byte(h), byte(h>>8)
}

func getHalf(b []byte) float32 { return tensor.HalfToFloat(uint16(b[0]) | uint16(b[1])<<8) }

// QuantizeQ8_0 follows ggml's quantize_row_q8_0_ref: d = amax/127 (stored
// as f16), q = round(x/d) with the unrounded d, halves away from zero.
// len(src) must be a multiple of BlockSize; dst holds len/32*34 bytes.
func QuantizeQ8_0(dst []byte, src []float32) {
	nb := len(src) / BlockSize
	_ = dst[nb*Q8_0BlockBytes-1]
	for i := 0; i < nb; i++ {
		x := src[i*BlockSize : i*BlockSize+BlockSize]
		b := dst[i*Q8_0BlockBytes : i*Q8_0BlockBytes+Q8_0BlockBytes]
		var amax float32
		for _, v := range x {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putHalf(b, d)
		for j, v := range x {
			b[2+j] = byte(int8(math.Round(float64(float32(v * id)))))
		}
	}
}

// DequantizeQ8_0 expands len(dst) values (a multiple of BlockSize).
func DequantizeQ8_0(dst []float32, src []byte) {
	nb := len(dst) / BlockSize
	_ = src[nb*Q8_0BlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q8_0BlockBytes : i*Q8_0BlockBytes+Q8_0BlockBytes]
		d := getHalf(b)
		y := dst[i*BlockSize : i*BlockSize+BlockSize]
		for j := range y {
			y[j] = float32(int8(b[2+j])) * d
		}
	}
}

// QuantizeQ4_0 follows ggml's quantize_row_q4_0_ref: the signed value of
// largest magnitude (first one on ties) gives d = max/-8, and
// q = min(15, trunc(x/d + 8.5)) with the unrounded d.
func QuantizeQ4_0(dst []byte, src []float32) {
	nb := len(src) / BlockSize
	_ = dst[nb*Q4_0BlockBytes-1]
	for i := 0; i < nb; i++ {
		x := src[i*BlockSize : i*BlockSize+BlockSize]
		b := dst[i*Q4_0BlockBytes : i*Q4_0BlockBytes+Q4_0BlockBytes]
		var amax, mx float32
		for _, v := range x {
			if amax < abs32(v) {
				amax, mx = abs32(v), v
			}
		}
		d := mx / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putHalf(b, d)
		for j := 0; j < BlockSize/2; j++ {
			// The float32 conversions keep each product rounded before the
			// add, as the C code computes (no fused multiply-add).
			q0 := min(15, int8(float32(x[j]*id)+8.5))
			q1 := min(15, int8(float32(x[j+16]*id)+8.5))
			b[2+j] = byte(q0) | byte(q1)<<4
		}
	}
}

// DequantizeQ4_0 expands len(dst) values (a multiple of BlockSize).
func DequantizeQ4_0(dst []float32, src []byte) {
	nb := len(dst) / BlockSize
	_ = src[nb*Q4_0BlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q4_0BlockBytes : i*Q4_0BlockBytes+Q4_0BlockBytes]
		d := getHalf(b)
		y := dst[i*BlockSize : i*BlockSize+BlockSize]
		for j := 0; j < BlockSize/2; j++ {
			y[j] = float32(int(b[2+j]&0x0f)-8) * d
			y[j+16] = float32(int(b[2+j]>>4)-8) * d
		}
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
