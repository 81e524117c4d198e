package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Each backward kernel is checked against central finite differences of a
// float64 re-implementation of its forward, on L = Σ out·R for a random R
// (so dout = R). Gradient buffers start non-zero to prove accumulation.

func gradRand(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((r.Float64()*2 - 1) * scale)
	}
	return v
}

func grad64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// gradNum returns dL/dx by central differences of f at x (x is restored).
func gradNum(f func() float64, x []float64) []float64 {
	g := make([]float64, len(x))
	const h = 1e-5
	for i := range x {
		old := x[i]
		x[i] = old + h
		fp := f()
		x[i] = old - h
		fm := f()
		x[i] = old
		g[i] = (fp - fm) / (2 * h)
	}
	return g
}

func gradDot(a []float64, r []float32) float64 {
	var s float64
	for i := range a {
		s += a[i] * float64(r[i])
	}
	return s
}

// gradCheck compares got-base (what the kernel accumulated) with want,
// elementwise within rtol relative to the larger of |want| and the mean
// magnitude of want, and prints the worst element.
func gradCheck(t *testing.T, name string, got, base []float32, want []float64, rtol float64) {
	t.Helper()
	var mean float64
	for _, w := range want {
		mean += math.Abs(w)
	}
	mean /= float64(len(want))
	worst, wi := 0.0, -1
	for i := range want {
		g := float64(got[i]) - float64(base[i])
		e := math.Abs(g-want[i]) / math.Max(math.Abs(want[i]), mean+1e-12)
		if e > worst {
			worst, wi = e, i
		}
	}
	if worst > rtol {
		t.Errorf("%s: worst relative error %.3g at [%d]: got %.7g want %.7g", name, worst, wi, float64(got[wi])-float64(base[wi]), want[wi])
	}
}

func gradClose(t *testing.T, name string, got []float32, want []float64, atol float64) {
	t.Helper()
	worst, wi := 0.0, 0
	for i := range want {
		if e := math.Abs(float64(got[i]) - want[i]); e > worst {
			worst, wi = e, i
		}
	}
	if worst > atol {
		t.Errorf("%s: worst abs error %.3g at [%d]: got %.7g want %.7g", name, worst, wi, got[wi], want[wi])
	}
}

func gradClone(v []float32) []float32 { return append([]float32(nil), v...) }

func rmsnorm64(x, w []float64, N, C int, eps float64) []float64 {
	out := make([]float64, N*C)
	for n := 0; n < N; n++ {
		var ss float64
		for i := 0; i < C; i++ {
			ss += x[n*C+i] * x[n*C+i]
		}
		r := 1 / math.Sqrt(ss/float64(C)+eps)
		for i := 0; i < C; i++ {
			out[n*C+i] = x[n*C+i] * r * w[i]
		}
	}
	return out
}

func TestRMSNormBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range []struct{ N, C int }{{1, 4}, {3, 7}, {5, 16}} {
		N, C := sz.N, sz.C
		inp, w, R := gradRand(r, N*C, 1), gradRand(r, C, 1), gradRand(r, N*C, 1)
		out, rstd := make([]float32, N*C), make([]float32, N)
		RMSNormForward(out, rstd, inp, w, N, C, 1e-6)
		x64, w64 := grad64(inp), grad64(w)
		gradClose(t, "rmsnorm forward", out, rmsnorm64(x64, w64, N, C, 1e-6), 1e-5)
		dinp, dw := gradRand(r, N*C, 1), gradRand(r, C, 1)
		b1, b2 := gradClone(dinp), gradClone(dw)
		RMSNormBackward(dinp, dw, R, inp, w, rstd, N, C)
		f := func() float64 { return gradDot(rmsnorm64(x64, w64, N, C, 1e-6), R) }
		gradCheck(t, "rmsnorm dinp", dinp, b1, gradNum(f, x64), 1e-3)
		gradCheck(t, "rmsnorm dweight", dw, b2, gradNum(f, w64), 1e-3)
	}
}

func rope64(x []float64, N, T, NH, HS int, theta float64) []float64 {
	out := append([]float64(nil), x...)
	h := HS / 2
	for n := 0; n < N; n++ {
		pos := float64(n % T)
		for hd := 0; hd < NH; hd++ {
			v := out[(n*NH+hd)*HS:]
			for i := 0; i < h; i++ {
				a := pos * math.Pow(theta, -float64(2*i)/float64(HS))
				c, s := math.Cos(a), math.Sin(a)
				x0, x1 := v[i], v[i+h]
				v[i] = x0*c - x1*s
				v[i+h] = x1*c + x0*s
			}
		}
	}
	return out
}

func TestRoPEBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	B, T, NH, HS := 2, 5, 3, 8
	N := B * T
	cos, sin := make([]float32, T*HS/2), make([]float32, T*HS/2)
	RoPETables(cos, sin, 0, T, HS, 10000)
	x := gradRand(r, N*NH*HS, 1)
	x64 := grad64(x)
	fwd := gradClone(x)
	RoPEForward(fwd, cos, sin, N, T, NH, HS)
	gradClose(t, "rope forward", fwd, rope64(x64, N, T, NH, HS, 10000), 1e-5)
	R := gradRand(r, len(x), 1)
	d := gradClone(R)
	RoPEBackward(d, cos, sin, N, T, NH, HS)
	f := func() float64 { return gradDot(rope64(x64, N, T, NH, HS, 10000), R) }
	gradCheck(t, "rope dx", d, make([]float32, len(d)), gradNum(f, x64), 1e-4)
}

func attention64(q, k, v []float64, B, T, NH, NKV, HS int) []float64 {
	out := make([]float64, B*T*NH*HS)
	rep := NH / NKV
	sc := 1 / math.Sqrt(float64(HS))
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			g := h / rep
			for t := 0; t < T; t++ {
				p := make([]float64, t+1)
				m := math.Inf(-1)
				for s := 0; s <= t; s++ {
					var d float64
					for i := 0; i < HS; i++ {
						d += q[((b*T+t)*NH+h)*HS+i] * k[((b*T+s)*NKV+g)*HS+i]
					}
					p[s] = d * sc
					m = math.Max(m, p[s])
				}
				var sum float64
				for s := range p {
					p[s] = math.Exp(p[s] - m)
					sum += p[s]
				}
				for s := range p {
					for i := 0; i < HS; i++ {
						out[((b*T+t)*NH+h)*HS+i] += p[s] / sum * v[((b*T+s)*NKV+g)*HS+i]
					}
				}
			}
		}
	}
	return out
}

func TestCausalAttentionBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range []struct{ B, T, NH, NKV, HS int }{{1, 4, 2, 2, 4}, {2, 5, 4, 2, 6}, {1, 6, 6, 1, 4}} {
		B, T, NH, NKV, HS := sz.B, sz.T, sz.NH, sz.NKV, sz.HS
		q, k, v := gradRand(r, B*T*NH*HS, 1), gradRand(r, B*T*NKV*HS, 1), gradRand(r, B*T*NKV*HS, 1)
		out, att := make([]float32, len(q)), make([]float32, B*NH*T*T)
		CausalAttentionForward(out, att, q, k, v, B, T, NH, NKV, HS)
		q64, k64, v64 := grad64(q), grad64(k), grad64(v)
		gradClose(t, "attention forward", out, attention64(q64, k64, v64, B, T, NH, NKV, HS), 1e-5)
		R := gradRand(r, len(out), 1)
		dq, dk, dv := gradRand(r, len(q), 1), gradRand(r, len(k), 1), gradRand(r, len(v), 1)
		bq, bk, bv := gradClone(dq), gradClone(dk), gradClone(dv)
		CausalAttentionBackward(dq, dk, dv, R, att, q, k, v, B, T, NH, NKV, HS)
		f := func() float64 { return gradDot(attention64(q64, k64, v64, B, T, NH, NKV, HS), R) }
		gradCheck(t, "attention dq", dq, bq, gradNum(f, q64), 1e-3)
		gradCheck(t, "attention dk", dk, bk, gradNum(f, k64), 1e-3)
		gradCheck(t, "attention dv", dv, bv, gradNum(f, v64), 1e-3)
	}
}

func TestSwiGLUBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 40
	gate, up, R := gradRand(r, n, 4), gradRand(r, n, 2), gradRand(r, n, 1)
	g64, u64 := grad64(gate), grad64(up)
	f := func() float64 {
		var s float64
		for i := range g64 {
			s += g64[i] / (1 + math.Exp(-g64[i])) * u64[i] * float64(R[i])
		}
		return s
	}
	dg, du := gradRand(r, n, 1), gradRand(r, n, 1)
	bg, bu := gradClone(dg), gradClone(du)
	SwiGLUBackward(dg, du, R, gate, up)
	gradCheck(t, "swiglu dgate", dg, bg, gradNum(f, g64), 1e-4)
	gradCheck(t, "swiglu dup", du, bu, gradNum(f, u64), 1e-4)
}

func TestEmbeddingBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	V, C := 6, 5
	tokens := []int32{1, 4, 1, 0, 5, 1}
	N := len(tokens)
	wte, R := gradRand(r, V*C, 1), gradRand(r, N*C, 1)
	out := make([]float32, N*C)
	EmbeddingForward(out, tokens, wte, N, C)
	w64 := grad64(wte)
	f := func() float64 {
		var s float64
		for n, id := range tokens {
			for i := 0; i < C; i++ {
				s += w64[int(id)*C+i] * float64(R[n*C+i])
			}
		}
		return s
	}
	for n, id := range tokens {
		for i := 0; i < C; i++ {
			if got, want := out[n*C+i], wte[int(id)*C+i]; got != want {
				t.Fatalf("embedding forward [%d,%d] = %v, want %v", n, i, got, want)
			}
		}
	}
	d := gradRand(r, V*C, 1)
	b := gradClone(d)
	EmbeddingBackward(d, R, tokens, N, C)
	gradCheck(t, "embedding dwte", d, b, gradNum(f, w64), 1e-6)
}

func TestCrossEntropy(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	N, V := 5, 7
	logits := gradRand(r, N*V, 3)
	targets := []int32{3, -100, 0, 6, -1}
	l64 := grad64(logits)
	dl := gradRand(r, N, 1)
	ce := func(withWeights bool) []float64 {
		out := make([]float64, N)
		for n := 0; n < N; n++ {
			if targets[n] < 0 {
				continue
			}
			var s float64
			for i := 0; i < V; i++ {
				s += math.Exp(l64[n*V+i])
			}
			out[n] = math.Log(s) - l64[n*V+int(targets[n])]
			if withWeights {
				out[n] *= float64(dl[n])
			}
		}
		return out
	}
	losses := make([]float32, N)
	if got, want := CrossEntropyForward(losses, logits, targets, N, V), 3; got != want {
		t.Errorf("counted rows = %d, want %d", got, want)
	}
	gradClose(t, "cross-entropy forward", losses, ce(false), 1e-6)
	f := func() float64 {
		var s float64
		for _, v := range ce(true) {
			s += v
		}
		return s
	}
	d := gradRand(r, N*V, 1)
	b := gradClone(d)
	CrossEntropyBackward(d, logits, dl, targets, N, V)
	want := gradNum(f, l64)
	gradCheck(t, "cross-entropy dlogits", d, b, want, 1e-4)

	// The fused form with a uniform dscale equals forward + backward.
	fused, fl := gradClone(logits), make([]float32, N)
	CrossEntropyInPlace(fl, fused, targets, 0.25, N, V)
	gradClose(t, "fused losses", fl, ce(false), 1e-6)
	sep := make([]float32, N*V)
	CrossEntropyBackward(sep, logits, []float32{0.25, 0.25, 0.25, 0.25, 0.25}, targets, N, V)
	gradClose(t, "fused dlogits", fused, grad64(sep), 1e-7)
}

// TestCrossEntropyWide runs the fused loss over a row long enough for the
// vector exponential (each kernel set), with logits far below the row's
// maximum (e^x underflows to 0 there), against float64.
func TestCrossEntropyWide(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		N, V := 3, 1003
		logits := gradRand(r, N*V, 8)
		logits[5], logits[V+17], logits[2*V] = -150, 30, -90 // underflow; a dominant logit
		targets := []int32{2, 17, 1000}
		want := make([]float64, N)
		wantD := make([]float64, N*V)
		const dscale = 0.5
		for n := 0; n < N; n++ {
			row := grad64(logits[n*V : n*V+V])
			m := row[0]
			for _, x := range row {
				m = math.Max(m, x)
			}
			var s float64
			for _, x := range row {
				s += math.Exp(x - m)
			}
			want[n] = m + math.Log(s) - row[targets[n]]
			for i, x := range row {
				wantD[n*V+i] = dscale * math.Exp(x-m) / s
			}
			wantD[n*V+int(targets[n])] -= dscale
		}
		losses := make([]float32, N)
		CrossEntropyInPlace(losses, logits, targets, dscale, N, V)
		gradClose(t, "losses", losses, want, 1e-6)
		gradClose(t, "dlogits", logits, wantD, 1e-7)
	})
}

// TestExpShift checks the vector exponential element by element against
// math.Exp, over the range a softmax row reaches, including underflow.
func TestExpShift(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		if impl.expShift == nil {
			t.Skip("no vector exponential in this set")
		}
		const n = 4096
		x := make([]float32, n)
		for i := range x {
			x[i] = -120 + 125*float32(i)/n // e^(x-5) from e^-125 to e^0
		}
		want := make([]float64, n)
		var wantSum float64
		for i, v := range x {
			want[i] = float64(float32(math.Exp(float64(v - 5))))
			wantSum += want[i]
		}
		sum := impl.expShift(&x[0], n, 5)
		for i, got := range x {
			if d := math.Abs(float64(got) - want[i]); d > 4e-7*want[i] && d > 1e-37 {
				t.Fatalf("element %d: e^%g = %g, want %g", i, -120+125*float64(i)/n-5, got, want[i])
			}
		}
		if math.Abs(sum-wantSum) > 1e-6*wantSum {
			t.Fatalf("sum %g, want %g", sum, wantSum)
		}
	})
}
