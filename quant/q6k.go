package quant

// Q6_K is the 6-bit K-quant: llama-quantize stores a Q4_0 model's output
// head and the Q4_K_M mix's attn_v/ffn_down of some layers in it; the Q6_K
// mix uses it throughout. Its quantizer, QuantizeQ6_K, is in
// kquant_quantize.go, its matrix kernel in kquant_matrix.go.
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
