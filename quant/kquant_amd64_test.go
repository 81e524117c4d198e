//go:build amd64 && !purego

package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
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
