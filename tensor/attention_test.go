package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func attnRand(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = (r.Float32()*2 - 1) * scale
	}
	return s
}

// attnMaxDiff returns the largest |a[i]-b[i]| and where it is.
func attnMaxDiff(a, b []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		if d := math.Abs(float64(a[i]) - float64(b[i])); d > worst || at < 0 {
			worst, at = d, i
		}
	}
	return worst, at
}

func attnCheckClose(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	if d, i := attnMaxDiff(got, want); d > tol {
		t.Errorf("%s: max abs diff %.3g at [%d] (got %g, want %g), tolerance %g", name, d, i, got[i], want[i], tol)
	}
}

// attentionRef is the textbook two-pass computation in float64 with an
// explicit score row per query, repeating KV heads as repeat_kv does.
func attentionRef(q, k, v []float32, T, pos, NH, NKV, HD int) []float32 {
	out := make([]float32, T*NH*HD)
	group := NH / NKV
	for t := 0; t < T; t++ {
		for h := 0; h < NH; h++ {
			kh := h / group
			L := pos + t + 1
			scores := make([]float64, L)
			mx := math.Inf(-1)
			for j := 0; j < L; j++ {
				var s float64
				for i := 0; i < HD; i++ {
					s += float64(q[(t*NH+h)*HD+i]) * float64(k[(j*NKV+kh)*HD+i])
				}
				scores[j] = s / math.Sqrt(float64(HD))
				mx = math.Max(mx, scores[j])
			}
			var sum float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - mx)
				sum += scores[j]
			}
			for i := 0; i < HD; i++ {
				var acc float64
				for j := 0; j < L; j++ {
					acc += scores[j] / sum * float64(v[(j*NKV+kh)*HD+i])
				}
				out[(t*NH+h)*HD+i] = float32(acc)
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		T, pos, NH, NKV, HD int
		scale               float32
	}{
		{1, 0, 1, 1, 4, 1},
		{5, 0, 4, 2, 8, 1},
		{1, 9, 4, 2, 8, 1},
		{3, 6, 6, 1, 16, 1},
		{7, 2, 4, 4, 32, 1},
		// Large scores: the running max changes often and exp would
		// overflow without it.
		{6, 3, 2, 1, 16, 12},
	} {
		name := fmt.Sprintf("T=%d,pos=%d,NH=%d,NKV=%d,HD=%d,scale=%g", tc.T, tc.pos, tc.NH, tc.NKV, tc.HD, tc.scale)
		t.Run(name, func(t *testing.T) {
			P := tc.pos + tc.T
			q := attnRand(r, tc.T*tc.NH*tc.HD, tc.scale)
			k := attnRand(r, P*tc.NKV*tc.HD, tc.scale)
			v := attnRand(r, P*tc.NKV*tc.HD, 1)
			want := attentionRef(q, k, v, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
			for _, threads := range []int{1, 2, 3} {
				prev := Threads()
				SetThreads(threads)
				got := make([]float32, len(want))
				AttentionKV(got, q, k, v, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
				SetThreads(prev)
				attnCheckClose(t, fmt.Sprintf("threads=%d", threads), got, want, 2e-6)
			}
		})
	}
}

// TestAttentionIncremental checks that one call over T tokens equals T
// calls of one token each, as prefill versus decode do.
func TestAttentionIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const T, NH, NKV, HD = 6, 4, 2, 8
	q := attnRand(r, T*NH*HD, 1)
	k := attnRand(r, T*NKV*HD, 1)
	v := attnRand(r, T*NKV*HD, 1)
	all := make([]float32, T*NH*HD)
	AttentionKV(all, q, k, v, T, 0, NH, NKV, HD)
	for p := 0; p < T; p++ {
		one := make([]float32, NH*HD)
		AttentionKV(one, q[p*NH*HD:], k, v, 1, p, NH, NKV, HD)
		attnCheckClose(t, fmt.Sprintf("pos %d", p), one, all[p*NH*HD:(p+1)*NH*HD], 1e-6)
	}
}

func BenchmarkAttentionDecode(b *testing.B) {
	for _, L := range []int{128, 1024} {
		b.Run(fmt.Sprintf("ctx=%d", L), func(b *testing.B) {
			r := rand.New(rand.NewPCG(9, 10))
			const NH, NKV, HD = 12, 2, 128
			q := attnRand(r, NH*HD, 1)
			k := attnRand(r, L*NKV*HD, 1)
			v := attnRand(r, L*NKV*HD, 1)
			out := make([]float32, NH*HD)
			for b.Loop() {
				AttentionKV(out, q, k, v, 1, L-1, NH, NKV, HD)
			}
		})
	}
}

func TestExpNonPos(t *testing.T) {
	worst, at := 0.0, float32(0)
	for i := 0; i <= 2_000_000; i++ {
		x := -float32(i) * (88.0 / 2_000_000)
		got, want := float64(expNonPos(x)), math.Exp(float64(x))
		if want < 1.19e-38 { // float32 subnormal range: flushing to 0 is fine for a softmax
			if got < 0 || got > 1.19e-38 {
				t.Fatalf("expNonPos(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		if rel := math.Abs(got-want) / want; rel > worst {
			worst, at = rel, x
		}
	}
	if worst > 2.4e-7 { // 2 ulp of float32
		t.Errorf("expNonPos: max relative error %.3g at x=%g", worst, at)
	}
	for _, tc := range []struct{ x, want float32 }{
		{0, 1}, {float32(math.Inf(-1)), 0}, {-100, 0},
	} {
		if got := expNonPos(tc.x); got != tc.want {
			t.Errorf("expNonPos(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	if got := expNonPos(float32(math.NaN())); got == got {
		t.Errorf("expNonPos(NaN) = %g, want NaN", got)
	}
}

func BenchmarkExp(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = -float32(i) * 0.01
	}
	var sink float32
	b.Run("expNonPos", func(b *testing.B) {
		for b.Loop() {
			for _, x := range xs {
				sink += expNonPos(x)
			}
		}
	})
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for _, x := range xs {
				sink += float32(math.Exp(float64(x)))
			}
		}
	})
	_ = sink
}

// TestSwiGLUKernel: the vectorized SwiGLU agrees with the scalar formula
// (math.Exp) within 4 ulp over the whole float32 range, and exactly in
// its saturated and special cases.
func TestSwiGLUKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	var gate []float32
	for _, v := range []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-45, 0.5, -0.5, 1, -1, 20, -20,
		87, -87, 88.7, -88.7, 89, -89, 104, -104, 200, -200, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1))} {
		gate = append(gate, v)
	}
	for len(gate) < 4096+7 {
		switch len(gate) % 3 {
		case 0:
			gate = append(gate, float32(r.NormFloat64()*3))
		case 1:
			gate = append(gate, float32(r.NormFloat64()*40))
		default:
			gate = append(gate, float32(math.Ldexp(r.Float64()*2-1, r.IntN(60)-30)))
		}
	}
	up := make([]float32, len(gate))
	for i := range up {
		up[i] = float32(r.NormFloat64())
	}
	up[0] = 1.5
	got := make([]float32, len(gate))
	SwiGLU(got, gate, up)
	for i, g := range gate {
		want := SiLU(g) * up[i]
		if got[i] == want || (math.IsNaN(float64(got[i])) && math.IsNaN(float64(want))) {
			continue
		}
		if d := math.Abs(float64(got[i]-want)) / math.Abs(float64(want)); d > 4*6e-8 || math.IsInf(float64(got[i]), 0) {
			t.Errorf("gate %g, up %g: got %g, want %g (relative %.2g)", g, up[i], got[i], want, d)
		}
	}
	nan := []float32{float32(math.NaN())}
	nan = append(nan, make([]float32, 15)...)
	out := make([]float32, 16)
	SwiGLU(out, nan, make([]float32, 16))
	if !math.IsNaN(float64(out[0])) {
		t.Errorf("SwiGLU(NaN) = %g, want NaN", out[0])
	}
}
