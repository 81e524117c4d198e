package qwen2

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"ragtune/model"
	"ragtune/tensor"
)

// BenchmarkMatrixBF16 compares a BF16 weight converted to float32 at load
// (DefaultMatrix) with one kept in 16 bits and widened inside MatMul
// (HalfMatrix), at the 1.5B model's MLP shape, for decode (T=1) and a
// prefill chunk (T=64).
func BenchmarkMatrixBF16(b *testing.B) {
	const R, C = 8960, 1536
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, R*C)
	for i := range vals {
		vals[i] = float32(r.NormFloat64()) * 0.02
	}
	w := makeTensor("w", model.BF16, []int{R, C}, vals)
	for _, load := range []struct {
		name string
		fn   MatrixLoader
	}{{"convert-at-load", DefaultMatrix}, {"keep-bf16", HalfMatrix}} {
		mat, err := load.fn(w)
		if err != nil {
			b.Fatal(err)
		}
		for _, T := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/T=%d", load.name, T), func(b *testing.B) {
				inp := make([]float32, T*C)
				for i := range inp {
					inp[i] = r.Float32()
				}
				out := make([]float32, T*R)
				for b.Loop() {
					mat.MatMul(out, inp, T)
				}
				b.ReportMetric(float64(2*R*C*T)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
	_ = tensor.Threads
}
