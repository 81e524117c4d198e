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

// BenchmarkQ6KPanelCPUTime times KMatrix.MatMul on a Q6_K matrix far
// larger than the caches (65536×1536, 83 MB; the 1.5B model's output head
// is 151936×1536) for one token and for an eight-token panel, with and
// without the eight-token kernel, in the file's row layout and interleaved
// by four (as Loader keeps it), on one thread by its CPU time (best
// iteration), per token.
//
//	go test ./quant -run '^$' -bench Q6KPanelCPUTime -benchtime 10x
func BenchmarkQ6KPanelCPUTime(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	saved := tensor.Threads()
	tensor.SetThreads(1)
	defer tensor.SetThreads(saved)
	const R, C = 65536, 1536
	data := make([]byte, R*C/QK_K*Q6_KBlockBytes)
	QuantizeQ6_K(data, randVec(r, R*C, 0.02))
	file, err := NewKMatrix(weights.Q6_K, data, R, C)
	if err != nil {
		b.Fatal(err)
	}
	layouts := []struct {
		name string
		m    *KMatrix
	}{{"file", file}, {"interleaved", file.interleave()}}
	for _, T := range []int{1, 8} {
		for _, eight := range []bool{false, true} {
			for _, l := range layouts {
				if eight && (T < 8 || q6KDots8 == nil) {
					continue
				}
				m := l.m
				inp, out := randVec(r, T*C, 1), make([]float32, T*R)
				b.Run(fmt.Sprintf("%s/T=%d/dots8=%v", l.name, T, eight), func(b *testing.B) {
					k8 := q6KDots8
					if !eight {
						q6KDots8 = nil
					}
					defer func() { q6KDots8 = k8 }()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					best := math.Inf(1)
					for b.Loop() {
						t0 := cputime.Thread().Seconds()
						m.MatMul(out, inp, T)
						best = min(best, cputime.Thread().Seconds()-t0)
					}
					b.ReportMetric(best/float64(T)*1e6, "µs/token")
				})
			}
		}
	}
}
