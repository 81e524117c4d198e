//go:build amd64 && !purego

package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"

	"ragtune/weights"
)

// TestKDotsAVX2MatchGo: the AVX2 K-quant dot products give exactly
// the pure-Go twins' results (same integers, same float operations), over
// rows shorter and longer than one assembly call's chunk, including
// extreme activations and weights.
func TestKDotsAVX2MatchGo(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(8, 9))
	for _, nb := range []int{1, 3, kChunk, kChunk + 7} {
		x := randVec(r, nb*QK_K, 1)
		x[0], x[1] = 1e3, -1e3 // a saturated activation block
		var a q8KActs
		a.quantize(x, nb)
		w := randVec(r, nb*QK_K, 0.05)
		for i := 0; i < QK_K; i++ {
			w[i] = float32(i%7) - 3 // levels at both ends
		}
		for _, tc := range []struct {
			name      string
			bytes     int
			quantize  func([]byte, []float32)
			simd, go_ func([]byte, *q8KActs, int) float32
		}{
			{"Q2_K", Q2_KBlockBytes, QuantizeQ2_K, dotQ2_KAVX2, dotQ2_K},
			{"Q3_K", Q3_KBlockBytes, QuantizeQ3_K, dotQ3_KAVX2, dotQ3_K},
			{"Q4_K", Q4_KBlockBytes, QuantizeQ4_K, dotQ4_KAVX2, dotQ4_K},
			{"Q4_K row", Q4_KBlockBytes, QuantizeQ4_K, dotQ4_KRowAVX2, dotQ4_K},
			{"Q6_K row", Q6_KBlockBytes, QuantizeQ6_K, dotQ6_KRowAVX2, dotQ6_K},
			{"Q5_K", Q5_KBlockBytes, QuantizeQ5_K, dotQ5_KAVX2, dotQ5_K},
			{"Q6_K", Q6_KBlockBytes, QuantizeQ6_K, dotQ6_KAVX2, dotQ6_K},
		} {
			data := make([]byte, nb*tc.bytes)
			tc.quantize(data, w)
			got, want := tc.simd(data, &a, nb), tc.go_(data, &a, nb)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Errorf("%s nb=%d: AVX2 %g, Go %g", tc.name, nb, got, want)
			}
		}
	}
}

// TestQ4KScales: the word-wise scale unpacking equals scaleMinK4, and the
// f16 table equals tensor.HalfToFloat, on every bit pattern tried.
func TestQ4KScales(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	for n := 0; n < 1000; n++ {
		var q [12]byte
		for i := range q {
			q[i] = byte(r.Uint32())
		}
		sc, mn := q4KScales(&q)
		for j := 0; j < 8; j++ {
			if s, m := scaleMinK4(j, q[:]); sc[j] != s || mn[j] != m {
				t.Fatalf("bytes %x sub-block %d: %d/%d, scaleMinK4 %d/%d", q, j, sc[j], mn[j], s, m)
			}
		}
	}
	for h := 0; h < 1<<16; h++ {
		b := []byte{byte(h), byte(h >> 8)}
		if got, want := kHalf(b), getHalf(b); math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("f16 %#04x: table %g, HalfToFloat %g", h, got, want)
		}
	}
}

// TestKDots4AVX2MatchGo: each lane of the four-token and the four-row
// Q4_K/Q6_K kernels is bit-identical to the pure-Go dot of its token or
// row, with one token's block saturated and another's all zero, and whole
// products through MatMul (groups of four tokens, leftover tokens, groups
// of four rows and leftover rows) equal the Go dots token by token.
func TestKDots4AVX2MatchGo(t *testing.T) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasF16C {
		t.Skip("no AVX2+F16C")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, nb := range []int{1, 2, 3, kChunk + 5} {
		n := nb * QK_K
		qs := make([]int8, 4*n)
		acts := make([]q8KActs, 4)
		for k := range acts {
			x := randVec(r, n, float32(k+1))
			switch k {
			case 1:
				x[5], x[6] = 1e3, -1e3
			case 2:
				clear(x[:QK_K]) // a block with d = 0
			}
			acts[k].qs = qs[k*n : (k+1)*n : (k+1)*n]
			acts[k].quantize(x, nb)
		}
		var g kActGroup
		g.fill(qs, acts, nb)
		w := randVec(r, n, 0.05)
		for i := 0; i < QK_K; i++ {
			w[i] = float32(i%9) - 4
		}
		w4 := randVec(r, 4*n, 0.05)
		copy(w4[n:], w) // one row with levels at both ends
		for i := 0; i < QK_K; i++ {
			w4[3*n+i] = 0 // and a block of zeros
		}
		for _, tc := range []struct {
			name     string
			bytes    int
			quantize func([]byte, []float32)
			simd     func([]byte, int, *kActGroup, int, *[4]float32)
			rows     func([]byte, int, int, int, *q8KActs, int, *[4]float32)
			go_      func([]byte, *q8KActs, int) float32
		}{
			{"Q4_K", Q4_KBlockBytes, QuantizeQ4_K, dotQ4_K4AVX2, dotQ4_KRows4AVX2, dotQ4_K},
			{"Q6_K", Q6_KBlockBytes, QuantizeQ6_K, dotQ6_K4AVX2, dotQ6_KRows4AVX2, dotQ6_K},
		} {
			data := make([]byte, nb*tc.bytes)
			tc.quantize(data, w)
			var got [4]float32
			tc.simd(data, tc.bytes, &g, nb, &got)
			for k := range 4 {
				if want := tc.go_(data, &acts[k], nb); math.Float32bits(got[k]) != math.Float32bits(want) {
					t.Errorf("%s nb=%d token %d: AVX2 %g, Go %g", tc.name, nb, k, got[k], want)
				}
			}
			rb := nb * tc.bytes
			rows := make([]byte, 4*rb)
			tc.quantize(rows, w4)
			// The same four rows interleaved block by block (KMatrix.il).
			bb := tc.bytes
			il := make([]byte, 4*rb)
			for b := 0; b < nb; b++ {
				for row := range 4 {
					copy(il[(4*b+row)*bb:(4*b+row+1)*bb], rows[row*rb+b*bb:])
				}
			}
			for k := range 4 {
				for _, layout := range []struct {
					name             string
					w                []byte
					stride, step, pf int
				}{{"file", rows, rb, bb, 4 * rb}, {"interleaved", il, bb, 4 * bb, kPrefetch}} {
					tc.rows(layout.w, layout.stride, layout.step, layout.pf, &acts[k], nb, &got)
					for row := range 4 {
						if want := tc.go_(rows[row*rb:(row+1)*rb], &acts[k], nb); math.Float32bits(got[row]) != math.Float32bits(want) {
							t.Errorf("%s nb=%d four rows (%s), token %d row %d: AVX2 %g, Go %g", tc.name, nb, layout.name, k, row, got[row], want)
						}
					}
				}
			}
			for row := range 4 {
				tc.simd(il[row*bb:], 4*bb, &g, nb, &got)
				for k := range 4 {
					if want := tc.go_(rows[row*rb:(row+1)*rb], &acts[k], nb); math.Float32bits(got[k]) != math.Float32bits(want) {
						t.Errorf("%s nb=%d interleaved row %d, token %d: AVX2 %g, Go %g", tc.name, nb, row, k, got[k], want)
					}
				}
			}
		}
	}

	const R, C = 21, 512
	for _, d := range []struct {
		dt  weights.DType
		go_ func([]byte, *q8KActs, int) float32
	}{{weights.Q4_K, dotQ4_K}, {weights.Q6_K, dotQ6_K}} {
		m, _ := kTestMatrix(t, r, d.dt, R, C)
		mi := m.interleave()
		if mi.il != 20 {
			t.Fatalf("%s %d rows: %d interleaved, want 20", d.dt, R, mi.il)
		}
		for _, T := range []int{1, 2, 4, 5, 8, 11} {
			inp := randVec(r, T*C, 1)
			for _, mm := range []*KMatrix{m, mi} {
				out := make([]float32, T*R)
				mm.MatMul(out, inp, T)
				for tk := 0; tk < T; tk++ {
					var a q8KActs
					a.quantize(inp[tk*C:(tk+1)*C], C/QK_K)
					for row := 0; row < R; row++ {
						want := d.go_(m.data[row*m.rowBytes:(row+1)*m.rowBytes], &a, C/QK_K)
						if got := out[tk*R+row]; math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s (%d rows interleaved) T=%d token %d row %d: MatMul %g, Go dot %g", d.dt, mm.il, T, tk, row, got, want)
						}
					}
				}
			}
		}
		got, want := make([]float32, C), make([]float32, C)
		for row := 0; row < R; row++ {
			mi.Row(got, row)
			m.Row(want, row)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s interleaved Row(%d)[%d] = %g, file layout %g", d.dt, row, i, got[i], want[i])
				}
			}
		}
	}
}
