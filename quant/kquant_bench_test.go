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
