package tensor

import (
	"math"
)

// Dot returns Σ a[i]*b[i] over len(a) elements.
func Dot(a, b []float32) float32 {
	n := len(a)
	if n == 0 {
		return 0
	}
	b = b[:n]
	k := impl
	m := n &^ (k.width - 1)
	var s float32
	if m > 0 {
		s = k.dot(&a[0], &b[0], m)
	}
	for i := m; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// Axpy sets y += alpha*x over len(y) elements.
func Axpy(y, x []float32, alpha float32) {
	n := len(y)
	if n == 0 {
		return
	}
	x = x[:n]
	k := impl
	m := n &^ (k.width - 1)
	if m > 0 {
		k.axpy(&y[0], &x[0], alpha, m)
	}
	for i := m; i < n; i++ {
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
// With AVX-512 the exponential is a vectorized polynomial within 2 ulp of
// the scalar path's: a scalar math.Exp per element took a fifth of a 1.5B
// prefill.
func SwiGLU(out, gate, up []float32) {
	up = up[:len(gate)]
	out = out[:len(gate)]
	i := 0
	if k := impl.swiglu; k != nil && len(gate) >= impl.width {
		i = len(gate) / impl.width * impl.width
		k(&out[0], &gate[0], &up[0], i)
	}
	for ; i < len(gate); i++ {
		out[i] = SiLU(gate[i]) * up[i]
	}
}
