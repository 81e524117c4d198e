package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"ragtune/internal/cputime"
)

// BenchmarkMatMulCPUTime runs MatMul on one thread and reports GFLOP per
// second of that thread's CPU time, best iteration: unlike wall time it
// holds up when other processes share the cores (compare with
// CPU_TIME=1 scripts/kernels_openblas.py 1 1024).
//
//	go test ./tensor -run '^$' -bench MatMulCPUTime -benchtime 10x
func BenchmarkMatMulCPUTime(b *testing.B) {
	for _, sh := range []struct{ T, C, OC int }{{1024, 1024, 1024}, {128, 1536, 8960}} {
		b.Run(fmt.Sprintf("%s/T=%d,C=%d,OC=%d", impl.name, sh.T, sh.C, sh.OC), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			saved := Threads()
			SetThreads(1)
			defer SetThreads(saved)
			r := rand.New(rand.NewPCG(1, 1))
			inp, w := randVec(r, sh.T*sh.C), randVec(r, sh.OC*sh.C)
			out := make([]float32, sh.T*sh.OC)
			MatMul(out, inp, w, nil, sh.T, sh.C, sh.OC)
			best := math.Inf(1)
			for b.Loop() {
				t0 := cputime.Thread().Seconds()
				MatMul(out, inp, w, nil, sh.T, sh.C, sh.OC)
				best = min(best, cputime.Thread().Seconds()-t0)
			}
			b.ReportMetric(2*float64(sh.T*sh.C*sh.OC)/best/1e9, "GFLOP/cpu-s")
		})
	}
}

// BenchmarkMatMulShapesCPUTime runs the GEMMs of a LoRA step on the
// R1-Distill-Qwen-1.5B shape at 256 tokens (forward: q/o, k/v, gate/up,
// down, an eighth of the LM head at 128 rows; then the same shapes' input
// gradients, MatMulBackward's dinp) on one thread, in GFLOP per thread
// CPU-second, best iteration. The peer is the same list through OpenBLAS:
// CPU_TIME=1 scripts/kernels_openblas.py 1 train.
//
//	go test ./tensor -run '^$' -bench MatMulShapesCPUTime -benchtime 5x
func BenchmarkMatMulShapesCPUTime(b *testing.B) {
	for _, sh := range []struct {
		bwd      bool
		T, C, OC int
	}{
		{false, 256, 1536, 1536}, {false, 256, 1536, 256}, {false, 256, 1536, 8960}, {false, 256, 8960, 1536},
		{false, 128, 1536, 18992},
		{true, 256, 1536, 1536}, {true, 256, 1536, 256}, {true, 256, 1536, 8960}, {true, 256, 8960, 1536},
		{true, 128, 1536, 18992},
	} {
		name := "fwd"
		if sh.bwd {
			name = "bwd"
		}
		b.Run(fmt.Sprintf("%s/%s/T=%d,C=%d,OC=%d", impl.name, name, sh.T, sh.C, sh.OC), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			saved := Threads()
			SetThreads(1)
			defer SetThreads(saved)
			r := rand.New(rand.NewPCG(1, 1))
			x, w, y := randVec(r, sh.T*sh.C), randVec(r, sh.OC*sh.C), randVec(r, sh.T*sh.OC)
			run := func() {
				if sh.bwd {
					MatMulBackward(x, nil, nil, y, nil, w, sh.T, sh.C, sh.OC)
				} else {
					MatMul(y, x, w, nil, sh.T, sh.C, sh.OC)
				}
			}
			run()
			best := math.Inf(1)
			for b.Loop() {
				t0 := cputime.Thread().Seconds()
				run()
				best = min(best, cputime.Thread().Seconds()-t0)
			}
			b.ReportMetric(2*float64(sh.T*sh.C*sh.OC)/best/1e9, "GFLOP/cpu-s")
		})
	}
}
