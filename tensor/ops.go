package tensor

import (
	"math"
)

// MatMul sets out (T, OC) = inp (T, C) @ w^T + bias, with w (OC, C) and
// bias (OC) or nil. PyTorch: out = F.linear(inp, w, bias).
func MatMul(out, inp, w, bias []float32, T, C, OC int) {
	_ = out[T*OC-1]
	_ = inp[T*C-1]
	_ = w[OC*C-1]
	ParallelFor(OC, func(lo, hi int) {
		for t := 0; t < T; t++ {
			x := inp[t*C : t*C+C]
			o := out[t*OC : t*OC+OC]
			for j := lo; j < hi; j++ {
				s := Dot(x, w[j*C:j*C+C])
				if bias != nil {
					s += bias[j]
				}
				o[j] = s
			}
		}
	})
}

// MatMulBackward accumulates the gradients of out = inp @ w^T + bias:
// dinp (T, C) += dout @ w, dw (OC, C) += dout^T @ inp, dbias (OC) += Σ_t dout.
// Any of dinp, dw, dbias may be nil when that gradient is not needed.
func MatMulBackward(dinp, dw, dbias, dout, inp, w []float32, T, C, OC int) {
	if dinp != nil {
		ParallelFor(T, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				di := dinp[t*C : t*C+C]
				for o := 0; o < OC; o++ {
					Axpy(di, w[o*C:o*C+C], dout[t*OC+o])
				}
			}
		})
	}
	if dw != nil || dbias != nil {
		ParallelFor(OC, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				for t := 0; t < T; t++ {
					g := dout[t*OC+o]
					if dw != nil {
						Axpy(dw[o*C:o*C+C], inp[t*C:t*C+C], g)
					}
					if dbias != nil {
						dbias[o] += g
					}
				}
			}
		})
	}
}

// Dot returns Σ a[i]*b[i] over len(a) elements.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy sets y += alpha*x over len(y) elements.
func Axpy(y, x []float32, alpha float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// RMSNorm sets out (T, C) = inp / sqrt(mean(inp²) + eps) * weight, per row.
// PyTorch (HF Qwen2RMSNorm): x * torch.rsqrt(x.pow(2).mean(-1) + eps) * w.
func RMSNorm(out, inp, weight []float32, T, C int, eps float32) {
	for t := 0; t < T; t++ {
		x := inp[t*C : t*C+C]
		o := out[t*C : t*C+C]
		var ss float32
		for _, v := range x {
			ss += v * v
		}
		r := 1 / float32(math.Sqrt(float64(ss/float32(C)+eps)))
		for i, v := range x {
			o[i] = v * r * weight[i]
		}
	}
}

// Softmax replaces x with softmax(x), numerically stable.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var s float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		x[i] = e
		s += e
	}
	inv := 1 / s
	for i := range x {
		x[i] *= inv
	}
}

// SiLU returns x * sigmoid(x).
func SiLU(x float32) float32 {
	return x / (1 + float32(math.Exp(float64(-x))))
}

// SwiGLU sets out[i] = silu(gate[i]) * up[i]. PyTorch: F.silu(gate) * up.
func SwiGLU(out, gate, up []float32) {
	up = up[:len(gate)]
	out = out[:len(gate)]
	for i, g := range gate {
		out[i] = SiLU(g) * up[i]
	}
}
