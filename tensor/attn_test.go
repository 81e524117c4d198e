package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// eachKernelSet runs f once per float32 kernel set this CPU has, so the
// tiled path (whose tiles follow the set's gemm register tile) and the
// exponential kernels are checked against the portable twins.
func eachKernelSet(t *testing.T, f func(t *testing.T)) {
	for _, name := range KernelSets() {
		restore, err := UseKernels(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, f)
		restore()
	}
}

// TestAttentionTiled: the tiled prefill path against the float64
// reference on random shapes: odd lengths, GQA ratios 1–8, head sizes 64
// and 128, query tiles that start on and off key-tile boundaries, and
// 1–3 workers.
func TestAttentionTiled(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	cases := []struct{ T, pos, NH, NKV, HD int }{
		{1, 0, 1, 1, 64},   // a single key
		{2, 63, 2, 2, 64},  // the causal edge at a key-tile boundary
		{7, 64, 3, 1, 64},  // GQA 3, keys 0..70
		{17, 0, 8, 1, 128}, // GQA 8, prompt start
		{33, 95, 12, 2, 128},
		{129, 3, 7, 1, 64},  // GQA 7 (7B), odd length over several tiles
		{45, 200, 4, 1, 64}, // GQA 4
		{31, 130, 5, 5, 128},
		{60, 1, 14, 2, 128},
	}
	for _, tc := range cases {
		P := tc.pos + tc.T
		q := attnRand(r, tc.T*tc.NH*tc.HD, 1)
		k := attnRand(r, P*tc.NKV*tc.HD, 1)
		v := attnRand(r, P*tc.NKV*tc.HD, 1)
		want := attentionRef(q, k, v, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
		name := fmt.Sprintf("T=%d,pos=%d,NH=%d,NKV=%d,HD=%d", tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
		t.Run(name, func(t *testing.T) {
			eachKernelSet(t, func(t *testing.T) {
				for _, threads := range []int{1, 2, 3} {
					prev := Threads()
					SetThreads(threads)
					got := make([]float32, len(want))
					attentionTiled(got, q, k, v, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
					SetThreads(prev)
					attnCheckClose(t, fmt.Sprintf("threads=%d", threads), got, want, 2e-6)
				}
			})
		})
	}
}

// TestAttentionTiledLargeScores: scores far apart make the running max
// jump between key tiles; the rescaling must keep every row exact.
func TestAttentionTiledLargeScores(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	const T, pos, NH, NKV, HD = 40, 150, 6, 1, 64
	P := pos + T
	q := attnRand(r, T*NH*HD, 3)
	k := attnRand(r, P*NKV*HD, 3)
	// Later keys aligned with the queries: the max grows tile by tile.
	for j := 0; j < P; j++ {
		for i := 0; i < HD; i++ {
			k[j*HD+i] += float32(j) / 40
		}
	}
	v := attnRand(r, P*NKV*HD, 1)
	want := attentionRef(q, k, v, T, pos, NH, NKV, HD)
	eachKernelSet(t, func(t *testing.T) {
		got := make([]float32, len(want))
		attentionTiled(got, q, k, v, T, pos, NH, NKV, HD)
		attnCheckClose(t, "tiled", got, want, 4e-6)
	})
}

// TestAttentionDecodeSplit: grouped decode with its sequence split over
// workers (merged by max and rescaled sums) equals the single pass, and
// both equal the reference, at lengths around the split threshold.
func TestAttentionDecodeSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	prevMin := attnSplitMin
	attnSplitMin = 16 // split even short rows
	defer func() { attnSplitMin = prevMin }()
	for _, tc := range []struct{ L, NH, NKV, HD int }{
		{1, 4, 1, 64}, {5, 8, 8, 64}, {17, 12, 2, 128}, {33, 6, 1, 64}, {257, 12, 2, 128}, {700, 7, 1, 128}, {1001, 16, 2, 64},
	} {
		q := attnRand(r, tc.NH*tc.HD, 2)
		k := attnRand(r, tc.L*tc.NKV*tc.HD, 2)
		v := attnRand(r, tc.L*tc.NKV*tc.HD, 1)
		want := attentionRef(q, k, v, 1, tc.L-1, tc.NH, tc.NKV, tc.HD)
		t.Run(fmt.Sprintf("L=%d,NH=%d,NKV=%d,HD=%d", tc.L, tc.NH, tc.NKV, tc.HD), func(t *testing.T) {
			eachKernelSet(t, func(t *testing.T) {
				prev := Threads()
				defer SetThreads(prev)
				SetThreads(1)
				single := make([]float32, len(want))
				attentionDecode(single, q, k, v, tc.L-1, tc.NH, tc.NKV, tc.HD)
				attnCheckClose(t, "single pass", single, want, 2e-6)
				for _, threads := range []int{2, 3, 8} {
					SetThreads(threads)
					got := make([]float32, len(want))
					attentionDecode(got, q, k, v, tc.L-1, tc.NH, tc.NKV, tc.HD)
					attnCheckClose(t, fmt.Sprintf("threads=%d vs single", threads), got, single, 1e-6)
				}
			})
		})
	}
}

// TestExpKernels: the vector exponentials against math.Exp, the masked
// -Inf entries exactly 0, and the running sums.
func TestExpKernels(t *testing.T) {
	const n = 4096
	s := make([]float32, n)
	m := make([]float32, n)
	l := make([]float32, n)
	want := make([]float64, n)
	for i := range s {
		m[i] = float32(i%7) - 3
		s[i] = m[i] - float32(i)*(90.0/n)
		if i%97 == 0 {
			s[i] = float32(math.Inf(-1))
		}
		want[i] = math.Exp(float64(s[i]) - float64(m[i]))
		l[i] = 1
	}
	s2 := append([]float32(nil), s...)
	expDiffAcc(s, m, l)
	for i := range s {
		w := want[i]
		if math.IsInf(float64(s2[i]), -1) && s[i] != 0 {
			t.Fatalf("expDiffAcc(-Inf) = %g, want 0", s[i])
		}
		if w < 1e-37 {
			if s[i] > 2e-37 || s[i] < 0 {
				t.Fatalf("expDiffAcc at %d = %g, want ~%g", i, s[i], w)
			}
			continue
		}
		if rel := math.Abs(float64(s[i])-w) / w; rel > 3e-7 {
			t.Fatalf("expDiffAcc at %d (x=%g) = %g, want %g (rel %.3g)", i, s2[i]-m[i], s[i], w, rel)
		}
		if d := math.Abs(float64(l[i]) - (1 + float64(s[i]))); d > 1e-7 {
			t.Fatalf("expDiffAcc sum at %d = %g, want %g", i, l[i], 1+s[i])
		}
	}
	for _, n := range []int{1, 7, 8, 9, 100} {
		x := make([]float32, n)
		var want float64
		for i := range x {
			x[i] = 2 - float32(i)*0.37
			want += math.Exp(float64(x[i]) - 2)
		}
		if got := expSubSum(x, 2); math.Abs(float64(got)-want) > 1e-6*want {
			t.Errorf("expSubSum n=%d = %g, want %g", n, got, want)
		}
	}
}

// BenchmarkAttentionPrefill compares the tiled path with the two-pass rows
// on one 128-token prefill chunk at the end of a long prompt, in the
// 1.5B model's shape.
func BenchmarkAttentionPrefill(b *testing.B) {
	const T, NH, NKV, HD = 128, 12, 2, 128
	for _, P := range []int{128, 256, 512, 2048, 4096} {
		r := rand.New(rand.NewPCG(37, 38))
		q := attnRand(r, T*NH*HD, 1)
		k := attnRand(r, P*NKV*HD, 1)
		v := attnRand(r, P*NKV*HD, 1)
		out := make([]float32, T*NH*HD)
		b.Run(fmt.Sprintf("tiled/ctx=%d", P), func(b *testing.B) {
			for b.Loop() {
				attentionTiled(out, q, k, v, T, P-T, NH, NKV, HD)
			}
		})
		b.Run(fmt.Sprintf("rows/ctx=%d", P), func(b *testing.B) {
			for b.Loop() {
				attnRows(out, q, k, v, T, P-T, NH, NKV, HD)
			}
		})
	}
}

// BenchmarkAttentionDecodeLong: grouped split-K decode against the
// per-(token, head) rows at long depths.
func BenchmarkAttentionDecodeLong(b *testing.B) {
	const NH, NKV, HD = 12, 2, 128
	for _, L := range []int{512, 2048, 4096} {
		r := rand.New(rand.NewPCG(39, 40))
		q := attnRand(r, NH*HD, 1)
		k := attnRand(r, L*NKV*HD, 1)
		v := attnRand(r, L*NKV*HD, 1)
		out := make([]float32, NH*HD)
		b.Run(fmt.Sprintf("grouped/ctx=%d", L), func(b *testing.B) {
			for b.Loop() {
				attentionDecode(out, q, k, v, L-1, NH, NKV, HD)
			}
		})
		b.Run(fmt.Sprintf("rows/ctx=%d", L), func(b *testing.B) {
			for b.Loop() {
				attnRows(out, q, k, v, 1, L-1, NH, NKV, HD)
			}
		})
	}
}
