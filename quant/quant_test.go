package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"ragtune/tensor"
	"ragtune/weights"
)

func randVec(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

func forEachImpl(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	saved := impl
	defer func() { impl = saved }()
	for _, k := range available {
		impl = k
		t.Run(k.name, fn)
	}
}

// TestQuantizeRules checks hand-worked blocks against ggml's reference rules.
func TestQuantizeRules(t *testing.T) {
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i - 10) // amax 21 at i=31, max magnitude value +21
	}
	x[5] = -21 // a tie in magnitude: Q4_0 keeps the first (-21 at index 5)
	q8 := make([]byte, Q8_0BlockBytes)
	QuantizeQ8_0(q8, x)
	d := float32(21) / 127
	if got, want := getHalf(q8), tensor.HalfToFloat(tensor.FloatToHalf(d)); got != want {
		t.Fatalf("Q8_0 scale: got %g, want %g", got, want)
	}
	for i, v := range x {
		want := int8(math.Round(float64(v * (1 / d))))
		if got := int8(q8[2+i]); got != want {
			t.Fatalf("Q8_0 element %d (%g): got %d, want %d", i, v, got, want)
		}
	}
	if int8(q8[2+31]) != 127 || int8(q8[2+5]) != -127 {
		t.Fatalf("Q8_0 extremes: got %d, %d, want 127, -127", int8(q8[2+31]), int8(q8[2+5]))
	}

	q4 := make([]byte, Q4_0BlockBytes)
	QuantizeQ4_0(q4, x)
	d4 := float32(-21) / -8 // max is the first largest-magnitude value, -21
	if got, want := getHalf(q4), tensor.HalfToFloat(tensor.FloatToHalf(d4)); got != want {
		t.Fatalf("Q4_0 scale: got %g, want %g", got, want)
	}
	nib := func(i int) int {
		if i < 16 {
			return int(q4[2+i] & 15)
		}
		return int(q4[2+i-16] >> 4)
	}
	if got := nib(5); got != 0 { // -21/d4 = -8 → q = 0
		t.Fatalf("Q4_0 most negative: got nibble %d, want 0", got)
	}
	if got := nib(31); got != 15 { // +21/d4 = +8 → 16.5 → clamped to 15
		t.Fatalf("Q4_0 clamp: got nibble %d, want 15", got)
	}
	if got := nib(10); got != 8 { // zero → 8
		t.Fatalf("Q4_0 zero: got nibble %d, want 8", got)
	}
	// All-zero blocks have d = 0 and every weight at the zero point.
	QuantizeQ4_0(q4, make([]float32, 32))
	for i, b := range q4[2:] {
		if b != 0x88 {
			t.Fatalf("Q4_0 zero block byte %d: got %#x, want 0x88", i, b)
		}
	}
}

func TestRoundTripErrorBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{32, 64, 320, 4096} {
		x := randVec(r, n, 0.05)
		for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
			rb, _ := RowBytes(d, n)
			buf := make([]byte, rb)
			if _, err := Quantize(d, buf, x); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, n)
			tt := weights.Tensor{Name: "w", DType: d, Shape: []int{n}, Data: buf}
			if err := Float32Into(&tt, y); err != nil {
				t.Fatalf("dequantize: %v", err)
			}
			bs := Q8_0BlockBytes
			bound := 0.57 // half a step, plus the f16 rounding of d
			if d == weights.Q4_0 {
				bs, bound = Q4_0BlockBytes, 1.01 // the clamped extreme loses a whole step
			}
			for i := range x {
				step := math.Abs(float64(getHalf(buf[i/32*bs:])))
				if e := math.Abs(float64(x[i] - y[i])); e > bound*step+1e-12 {
					t.Fatalf("%s n=%d element %d: %g → %g, error %g > %g×d (d=%g)", d, n, i, x[i], y[i], e, bound, step)
				}
			}
		}
	}
	if _, err := RowBytes(weights.Q8_0, 33); err == nil {
		t.Fatal("RowBytes accepted 33 columns")
	}
	if _, err := NewQ4_0Matrix(make([]byte, 17), 1, 32); err == nil {
		t.Fatal("NewQ4_0Matrix accepted a short buffer")
	}
}

// refMatMul is out = inp' @ W^T in float64, with W dequantized and inp'
// the activations after the kernels' int8 quantization when quantActs (the
// per-block dot products below gemmMinT tokens, and Packed at every T),
// else the float32 activations (the GEMM path); it also returns Σ|terms|
// per element as the error scale.
func refMatMul(m *qmatrix, inp []float32, T int, quantActs bool) (want, scale []float64) {
	w := make([]float32, m.rows*m.cols)
	m.Dequantize(w)
	nb := m.cols / BlockSize
	xq := make([]int8, T*m.cols)
	xd := make([]float32, T*nb)
	quantizeActs(xq, xd, make([]int32, T*nb*8), inp)
	act := func(i int) float64 {
		if !quantActs {
			return float64(inp[i])
		}
		return float64(xq[i]) * float64(xd[i/BlockSize])
	}
	want = make([]float64, T*m.rows)
	scale = make([]float64, T*m.rows)
	for t := 0; t < T; t++ {
		for r := 0; r < m.rows; r++ {
			var s, a float64
			for c := 0; c < m.cols; c++ {
				x := act(t*m.cols + c)
				p := x * float64(w[r*m.cols+c])
				s += p
				a += math.Abs(p)
			}
			want[t*m.rows+r], scale[t*m.rows+r] = s, a
		}
	}
	return want, scale
}

// worstError returns the largest |out-want|/scale and its index (NaN
// outputs count as worst).
func worstError(out []float32, want, scale []float64) (worst float64, at int) {
	for i := range want {
		if e := math.Abs(float64(out[i])-want[i]) / (scale[i] + 1e-30); e > worst || math.IsNaN(float64(out[i])) {
			worst, at = e, i
		}
	}
	return worst, at
}

func TestMatMul(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
			for _, sh := range []struct{ T, R, C int }{
				{1, 1, 32}, {1, 5, 64}, {2, 17, 96}, {3, 33, 1056}, {4, 8, 32}, {5, 40, 160},
				{8, 3, 64}, {9, 19, 288}, {13, 64, 512},
			} {
				q := randQMatrix(t, r, d, sh.R, sh.C)
				inp := randVec(r, sh.T*sh.C, 1)
				out := randVec(r, sh.T*sh.R, 1)
				q.MatMul(out, inp, sh.T)
				want, scale := refMatMul(&q, inp, sh.T, sh.T < gemmMinT)
				worst, wi := worstError(out, want, scale)
				if worst > 1e-5 {
					t.Fatalf("%s T=%d R=%d C=%d: worst element %d: got %g, want %g (error %.3g × scale)",
						d, sh.T, sh.R, sh.C, wi, out[wi], want[wi], worst)
				}
			}
		}
	})
}

// TestMatMulVsFloat bounds the whole error against the unquantized product.
func TestDecodeRows(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		R, C := 5, 1056
		for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
			rb, _ := RowBytes(d, C)
			buf := make([]byte, R*rb)
			Quantize(d, buf, randVec(r, R*C, 0.3))
			q, _ := newQMatrix(d, buf, R, C)
			full := make([]float32, R*C)
			q.Dequantize(full)
			for _, c := range [][2]int{{0, C}, {32, 96}, {512, 1056}, {1024, 1056}} {
				got := make([]float32, 3*(c[1]-c[0]))
				q.DecodeRows(got, 1, 4, c[0], c[1])
				for i, v := range got {
					row, col := 1+i/(c[1]-c[0]), c[0]+i%(c[1]-c[0])
					if want := full[row*C+col]; v != want {
						t.Fatalf("%s cols %v: row %d col %d: got %g, want %g", d, c, row, col, v, want)
					}
				}
			}
			row := make([]float32, C)
			q.Row(row, 2)
			for i, v := range row {
				if v != full[2*C+i] {
					t.Fatalf("%s Row(2)[%d]: got %g, want %g", d, i, v, full[2*C+i])
				}
			}
		}
	})
}

func TestMatMulVsFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	T, R, C := 6, 48, 512
	w := randVec(r, R*C, 0.02)
	inp := randVec(r, T*C, 1)
	exact := make([]float32, T*R)
	tensor.MatMul(exact, inp, w, nil, T, C, R)
	for _, tc := range []struct {
		d   weights.DType
		tol float64 // relative RMS error
	}{{weights.Q8_0, 0.01}, {weights.Q4_0, 0.12}} {
		rb, _ := RowBytes(tc.d, C)
		buf := make([]byte, R*rb)
		Quantize(tc.d, buf, w)
		m, err := NewMatrix(&weights.Tensor{Name: "w", DType: tc.d, Shape: []int{R, C}, Data: buf})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, T*R)
		m.MatMul(out, inp, T)
		var num, den float64
		for i := range out {
			num += float64(out[i]-exact[i]) * float64(out[i]-exact[i])
			den += float64(exact[i]) * float64(exact[i])
		}
		if rel := math.Sqrt(num / den); rel > tc.tol {
			t.Errorf("%s: relative RMS error %.4f vs float32, want <= %g", tc.d, rel, tc.tol)
		}
	}
}

func TestMatMulNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, T := range []int{1, 16} {
		w := randVec(r, 64*256, 0.02)
		buf := make([]byte, 64*256/32*34)
		QuantizeQ8_0(buf, w)
		m, _ := NewQ8_0Matrix(buf, 64, 256)
		inp, out := randVec(r, T*256, 1), make([]float32, T*64)
		m.MatMul(out, inp, T)
		if a := testing.AllocsPerRun(20, func() { m.MatMul(out, inp, T) }); a > 0.5 {
			t.Errorf("T=%d: %.1f allocations per MatMul, want 0", T, a)
		}
	}
}

func BenchmarkMatVec(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		for _, sh := range []struct{ R, C int }{{1536, 1536}, {8960, 1536}, {1536, 8960}} {
			b.Run(fmt.Sprintf("%s/%s/R=%d,C=%d", impl.name, d, sh.R, sh.C), func(b *testing.B) {
				// Enough matrices that they stream from memory, as in decode.
				const n = 8
				rb, _ := RowBytes(d, sh.C)
				ms := make([]*qmatrix, n)
				w := randVec(r, sh.R*sh.C, 0.02)
				for i := range ms {
					buf := make([]byte, sh.R*rb)
					Quantize(d, buf, w)
					q, _ := newQMatrix(d, buf, sh.R, sh.C)
					ms[i] = &q
				}
				inp, out := randVec(r, sh.C, 1), make([]float32, sh.R)
				i := 0
				for b.Loop() {
					ms[i%n].MatMul(out, inp, 1)
					i++
				}
				b.ReportMetric(float64(sh.R*rb)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

func BenchmarkMatMul(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		for _, sh := range []struct{ T, R, C int }{{128, 1536, 1536}, {128, 8960, 1536}, {128, 1536, 8960}} {
			b.Run(fmt.Sprintf("%s/%s/T=%d,R=%d,C=%d", impl.name, d, sh.T, sh.R, sh.C), func(b *testing.B) {
				rb, _ := RowBytes(d, sh.C)
				buf := make([]byte, sh.R*rb)
				Quantize(d, buf, randVec(r, sh.R*sh.C, 0.02))
				q, _ := newQMatrix(d, buf, sh.R, sh.C)
				inp, out := randVec(r, sh.T*sh.C, 1), make([]float32, sh.T*sh.R)
				for b.Loop() {
					q.MatMul(out, inp, sh.T)
				}
				b.ReportMetric(2*float64(sh.T*sh.R*sh.C)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
