package quant

import (
	"math"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

func threadCPUTime() float64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return float64(ts.Nano()) / 1e9
}

// BenchmarkDotCPUTime times the decode dot products on one 4096-wide row
// held in L1, by the thread's CPU time (best iteration): the compute rate
// a core reaches, in GB/s of weights. Decode is memory-bound when two cores
// together exceed the memory bandwidth (~40 GB/s here).
//
//	go test ./quant -run '^$' -bench DotCPUTime
func BenchmarkDotCPUTime(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const C, nb = 4096, 4096 / BlockSize
	w8 := make([]byte, nb*Q8_0BlockBytes)
	QuantizeQ8_0(w8, randVec(r, C, 1))
	w4 := make([]byte, nb*Q4_0BlockBytes)
	QuantizeQ4_0(w4, randVec(r, C, 1))
	xq := make([]int8, C)
	xd := make([]float32, nb)
	xb := make([]int32, nb*8)
	quantizeActs(xq, xd, xb, randVec(r, C, 1))
	q4 := func(w *byte, xq *int8, xd *float32, nb int) float32 { return impl.q4dot(w, xq, xd, &xb[0], nb) }
	for _, tc := range []struct {
		name string
		w    []byte
		dot  func(*byte, *int8, *float32, int) float32
	}{{impl.name + "/Q8_0", w8, impl.q8dot}, {impl.name + "/Q4_0", w4, q4}} {
		b.Run(tc.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			best := math.Inf(1)
			for b.Loop() {
				t0 := threadCPUTime()
				for i := 0; i < 100; i++ {
					tc.dot(&tc.w[0], &xq[0], &xd[0], nb)
				}
				best = min(best, (threadCPUTime()-t0)/100)
			}
			b.ReportMetric(best/nb*1e9, "ns/block")
			b.ReportMetric(float64(len(tc.w))/best/1e9, "GB/s/core")
		})
	}
}
