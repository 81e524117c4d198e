package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"ragtune/internal/cputime"
	"ragtune/tensor"
	"ragtune/weights"
)

// BenchmarkPackedPanelCPUTime times Packed.MatMul over a matrix far larger
// than the caches (65536×1536 Q4_0, 57 MB: weights come from memory, as in
// decode) for token panels of 1 to 12, on one thread by its CPU time (best
// iteration), per token: batched decode is cheaper per token than one
// sequence while the panel's compute hides under the weight reads.
//
//	go test ./quant -run '^$' -bench PackedPanelCPUTime -benchtime 10x
func BenchmarkPackedPanelCPUTime(b *testing.B) {
	if !PackedAvailable() {
		b.Skip("no assembly tile kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(1, 2))
	saved := tensor.Threads()
	tensor.SetThreads(1)
	defer tensor.SetThreads(saved)
	const R, C = 65536, 1536
	rb, _ := RowBytes(weights.Q4_0, C)
	buf := make([]byte, R*rb)
	Quantize(weights.Q4_0, buf, randVec(r, R*C, 0.02))
	m, err := NewPacked(weights.Q4_0, buf, R, C)
	if err != nil {
		b.Fatal(err)
	}
	for _, T := range []int{1, 2, 4, 8, 12} {
		inp, out := randVec(r, T*C, 1), make([]float32, T*R)
		b.Run(fmt.Sprintf("%s/T=%d", tiles.name, T), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			best := math.Inf(1)
			for b.Loop() {
				t0 := cputime.Thread().Seconds()
				m.MatMul(out, inp, T)
				best = min(best, cputime.Thread().Seconds()-t0)
			}
			b.ReportMetric(best/float64(T)*1e6, "µs/token")
			b.ReportMetric(2*float64(T*R*C)/best/1e9, "GOP/s")
		})
	}
}
