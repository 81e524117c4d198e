package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"ragtune/weights"
)

// BenchmarkKMatrix: one R1-Distill-1.5B MLP projection (8960×1536) per
// K-quant type, for a decode step (T=1) and a prefill chunk (T=64).
func BenchmarkKMatrix(b *testing.B) {
	const R, C = 8960, 1536
	r := rand.New(rand.NewPCG(1, 2))
	w := randVec(r, R*C, 0.02)
	for _, d := range []weights.DType{weights.Q4_K, weights.Q6_K, weights.Q2_K, weights.Q3_K, weights.Q5_K} {
		k, _ := kTypeOf(d)
		data := make([]byte, R*C/QK_K*k.blockBytes)
		k.quantize(data, w)
		m, err := NewKMatrix(d, data, R, C)
		if err != nil {
			b.Fatal(err)
		}
		for _, T := range []int{1, 64} {
			inp := randVec(r, T*C, 1)
			out := make([]float32, T*R)
			b.Run(fmt.Sprintf("%s/T=%d", d, T), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					m.MatMul(out, inp, T)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(T)/1e3, "µs/token")
			})
		}
	}
}

// BenchmarkKRows4Layout: the four-row decode kernel over a matrix much
// larger than the caches (32768×1536: 28–40 MB, a fifth of the 1.5B
// model's output head), one thread, rows in the file's layout against the
// interleaved one Loader builds (KMatrix.il). Compare MB/s.
func BenchmarkKRows4Layout(b *testing.B) {
	if kDots.q4KR4 == nil {
		b.Skip("no four-row kernel on this CPU")
	}
	const R, C = 32768, 1536
	r := rand.New(rand.NewPCG(1, 2))
	w := randVec(r, R*C, 0.02)
	for _, d := range []weights.DType{weights.Q4_K, weights.Q6_K} {
		k, _ := kTypeOf(d)
		data := make([]byte, R*C/QK_K*k.blockBytes)
		k.quantize(data, w)
		m, err := NewKMatrix(d, data, R, C)
		if err != nil {
			b.Fatal(err)
		}
		mi := m.interleave()
		var a q8KActs
		a.quantize(randVec(r, C, 1), C/QK_K)
		nb, rb, bb := C/QK_K, m.rowBytes, k.blockBytes
		var out [4]float32
		for _, l := range []struct {
			name             string
			m                *KMatrix
			stride, step, pf int
		}{{"file", m, rb, bb, 4 * rb}, {"interleaved", mi, bb, 4 * bb, kPrefetch}} {
			b.Run(fmt.Sprintf("%s/%s", d, l.name), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					for row := 0; row+4 <= R; row += 4 {
						k.rows4(l.m.data[row*rb:(row+4)*rb], l.stride, l.step, l.pf, &a, nb, &out)
					}
				}
			})
		}
	}
}
