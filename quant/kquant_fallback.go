package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"ragtune/tensor"
	"ragtune/weights"
)

// Q5_0 and Q5_1 are 32-value block types that llama-quantize falls back to
// when a K-quant mix meets rows that are not a multiple of 256 wide
// (Q4_K → Q5_0, Q5_K → Q5_1), as in small test models; Q4_1 is what it
// gives the first eighth of the layers' ffn_down in a Q4_0 model quantized
// with an importance matrix. ragtune writes them so its files equal
// llama-quantize's, and reads them by expanding to float32 at load: they
// are narrow fallbacks or a few tensors of a model.
const (
	Q4_1BlockBytes = 20 // f16 d, f16 m, qs[16] nibbles
	Q5_0BlockBytes = 22 // f16 d, qh[4] (fifth bits), qs[16] nibbles
	Q5_1BlockBytes = 24 // f16 d, f16 m, qh[4], qs[16]
)

// QuantizeQ5_0 writes len(src)/32 Q5_0 blocks (quantize_row_q5_0_ref):
// d = max/−16, q = trunc(x/d + 16.5) capped at 31.
func QuantizeQ5_0(dst []byte, src []float32) {
	for i := 0; i < len(src)/BlockSize; i++ {
		x := src[i*BlockSize : (i+1)*BlockSize]
		y := dst[i*Q5_0BlockBytes : (i+1)*Q5_0BlockBytes]
		var amax, max float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putHalfBits(y, fp16(d))
		var qh uint32
		for j := 0; j < 16; j++ {
			x0, x1 := float32(x[j]*id), float32(x[j+16]*id)
			q0 := uint8(min(int8(x0+16.5), 31))
			q1 := uint8(min(int8(x1+16.5), 31))
			y[6+j] = q0&0xf | (q1&0xf)<<4
			qh |= uint32(q0&0x10>>4) << j
			qh |= uint32(q1&0x10>>4) << (j + 16)
		}
		binary.LittleEndian.PutUint32(y[2:], qh)
	}
}

// minScale returns a block's minimum, the step d = (max−min)/levels of the
// min-offset formats and its inverse (0 for a constant block), computed
// in float32 as ggml's reference quantizers do.
func minScale(x []float32, levels float32) (mn, d, id float32) {
	mn, mx := float32(math.MaxFloat32), float32(-math.MaxFloat32)
	for _, v := range x {
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
	}
	d = (mx - mn) / levels
	if d != 0 {
		id = 1 / d
	}
	return mn, d, id
}

// QuantizeQ5_1 writes len(src)/32 Q5_1 blocks (quantize_row_q5_1_ref):
// d = (max−min)/31, m = min, q = trunc((x−min)/d + 0.5).
func QuantizeQ5_1(dst []byte, src []float32) {
	for i := 0; i < len(src)/BlockSize; i++ {
		x := src[i*BlockSize : (i+1)*BlockSize]
		y := dst[i*Q5_1BlockBytes : (i+1)*Q5_1BlockBytes]
		mn, d, id := minScale(x, 31)
		putHalfBits(y, fp16(d))
		putHalfBits(y[2:], fp16(mn))
		var qh uint32
		for j := 0; j < 16; j++ {
			x0, x1 := float32((x[j]-mn)*id), float32((x[j+16]-mn)*id)
			q0, q1 := uint8(x0+0.5), uint8(x1+0.5)
			y[8+j] = q0&0xf | (q1&0xf)<<4
			qh |= uint32(q0&0x10>>4) << j
			qh |= uint32(q1&0x10>>4) << (j + 16)
		}
		binary.LittleEndian.PutUint32(y[4:], qh)
	}
}

// QuantizeQ4_1 writes len(src)/32 Q4_1 blocks (quantize_row_q4_1_ref):
// d = (max−min)/15, m = min, q = trunc((x−min)/d + 0.5) capped at 15.
func QuantizeQ4_1(dst []byte, src []float32) {
	for i := 0; i < len(src)/BlockSize; i++ {
		x := src[i*BlockSize : (i+1)*BlockSize]
		y := dst[i*Q4_1BlockBytes : (i+1)*Q4_1BlockBytes]
		mn, d, id := minScale(x, 15)
		putHalfBits(y, fp16(d))
		putHalfBits(y[2:], fp16(mn))
		for j := 0; j < 16; j++ {
			// The C code converts through int8 before capping, so a NaN
			// or huge quotient lands where its conversion puts it.
			x0, x1 := float32((x[j]-mn)*id), float32((x[j+16]-mn)*id)
			q0 := uint8(min(int8(x0+0.5), 15))
			q1 := uint8(min(int8(x1+0.5), 15))
			y[4+j] = q0 | q1<<4
		}
	}
}

// DequantizeQ4_1 expands Q4_1 blocks as dequantize_row_q4_1: q·d + m.
func DequantizeQ4_1(dst []float32, src []byte) {
	nb := len(dst) / BlockSize
	_ = src[nb*Q4_1BlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q4_1BlockBytes:]
		d, m := getHalf(b), getHalf(b[2:])
		y := dst[i*BlockSize : (i+1)*BlockSize]
		for j := 0; j < 16; j++ {
			y[j] = float32(float32(b[4+j]&0xf)*d) + m
			y[j+16] = float32(float32(b[4+j]>>4)*d) + m
		}
	}
}

// DequantizeQ5_0 expands Q5_0 blocks as dequantize_row_q5_0: (q−16)·d.
func DequantizeQ5_0(dst []float32, src []byte) {
	nb := len(dst) / BlockSize
	_ = src[nb*Q5_0BlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q5_0BlockBytes:]
		d := getHalf(b)
		qh := binary.LittleEndian.Uint32(b[2:])
		y := dst[i*BlockSize : (i+1)*BlockSize]
		for j := 0; j < 16; j++ {
			h0 := uint8(qh>>j<<4) & 0x10
			h1 := uint8(qh>>(j+12)) & 0x10
			y[j] = float32(int32(b[6+j]&0xf|h0)-16) * d
			y[j+16] = float32(int32(b[6+j]>>4|h1)-16) * d
		}
	}
}

// DequantizeQ5_1 expands Q5_1 blocks as dequantize_row_q5_1: q·d + m.
func DequantizeQ5_1(dst []float32, src []byte) {
	nb := len(dst) / BlockSize
	_ = src[nb*Q5_1BlockBytes-1]
	for i := 0; i < nb; i++ {
		b := src[i*Q5_1BlockBytes:]
		d, m := getHalf(b), getHalf(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		y := dst[i*BlockSize : (i+1)*BlockSize]
		for j := 0; j < 16; j++ {
			h0 := uint8(qh>>j<<4) & 0x10
			h1 := uint8(qh>>(j+12)) & 0x10
			y[j] = float32(float32(b[8+j]&0xf|h0)*d) + m
			y[j+16] = float32(float32(b[8+j]>>4|h1)*d) + m
		}
	}
}

// loadExpanded is Loader's Q4_1/Q5_0/Q5_1 branch: the tensor as float32.
func loadExpanded(t *weights.Tensor) (tensor.Matrix, error) {
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("quant matrix %q: shape %v is not 2-D", t.Name, t.Shape)
	}
	data, err := Float32(t)
	if err != nil {
		return nil, err
	}
	return &tensor.F32Matrix{Data: data, R: t.Shape[0], C: t.Shape[1]}, nil
}

// UnsupportedTypeError reports a tensor stored in a block type ragtune can
// neither run nor convert (the IQ*, TQ* and other llama.cpp types), with
// what to do instead.
type UnsupportedTypeError struct {
	Name string // empty when the caller names the tensor (Loader's callers do)
	Type weights.DType
}

func (e *UnsupportedTypeError) Error() string {
	what := "stored as " + e.Type.String()
	if e.Name != "" {
		what = fmt.Sprintf("tensor %q is %s", e.Name, what)
	}
	return what + ", a type ragtune cannot run; quantize the model again from its Hugging Face or F16/BF16 source with 'ragtune quantize --model DIR --type q4_k_m' (or q2_k…q6_k, q4_0, q8_0)"
}

// checkReadable returns an UnsupportedTypeError for types no decoder here
// or in package weights handles.
func checkReadable(t *weights.Tensor) error {
	if fn, _, _ := dequantizer(t.DType); fn != nil || t.DType.ElementSize() > 0 {
		return nil
	}
	return &UnsupportedTypeError{Name: t.Name, Type: t.DType}
}
