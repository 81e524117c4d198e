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
				t0 := cputime.Thread().Seconds()
				for i := 0; i < 100; i++ {
					tc.dot(&tc.w[0], &xq[0], &xd[0], nb)
				}
				best = min(best, (cputime.Thread().Seconds()-t0)/100)
			}
			b.ReportMetric(best/nb*1e9, "ns/block")
			b.ReportMetric(float64(len(tc.w))/best/1e9, "GB/s/core")
		})
	}
}

// BenchmarkPackedCPUTime times Packed.MatMul on one thread by its CPU time
// (best iteration), with each tile set this CPU runs: decode (T=1, weights
// from memory, GB/s of weights) and prefill (T=128, int8 GEMM, GOP/s
// counting a multiply-add as two).
//
//	go test ./quant -run '^$' -bench PackedCPUTime
func BenchmarkPackedCPUTime(b *testing.B) {
	if !PackedAvailable() {
		b.Skip("no assembly tile kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(1, 2))
	saved := tensor.Threads()
	tensor.SetThreads(1)
	defer tensor.SetThreads(saved)
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		for _, sh := range []struct{ T, R, C int }{{1, 8960, 1536}, {1, 1536, 8960}, {128, 1536, 1536}, {128, 8960, 1536}} {
			rb, _ := RowBytes(d, sh.C)
			buf := make([]byte, sh.R*rb)
			Quantize(d, buf, randVec(r, sh.R*sh.C, 0.02))
			m, err := NewPacked(d, buf, sh.R, sh.C)
			if err != nil {
				b.Fatal(err)
			}
			inp, out := randVec(r, sh.T*sh.C, 1), make([]float32, sh.T*sh.R)
			for _, ts := range tileSets {
				b.Run(fmt.Sprintf("%s/%s/T=%d/%dx%d", ts.name, d, sh.T, sh.R, sh.C), func(b *testing.B) {
					saved := tiles
					tiles = ts
					defer func() { tiles = saved }()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					best := math.Inf(1)
					for b.Loop() {
						t0 := cputime.Thread().Seconds()
						m.MatMul(out, inp, sh.T)
						best = min(best, cputime.Thread().Seconds()-t0)
					}
					if sh.T == 1 {
						b.ReportMetric(float64(len(buf))/best/1e9, "GB/s/core")
					} else {
						b.ReportMetric(2*float64(sh.T*sh.R*sh.C)/best/1e9, "GOP/s/core")
					}
				})
			}
		}
	}
}

// BenchmarkPackedDecodeDRAM: decode over a matrix far larger than the
// caches (the 1.5B head's shape), by wall time on the default threads.
func BenchmarkPackedDecodeDRAM(b *testing.B) {
	if !PackedAvailable() {
		b.Skip("no assembly tile kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range []weights.DType{weights.Q4_0, weights.Q8_0} {
		R, C := 151936, 1536
		rb, _ := RowBytes(d, C)
		buf := make([]byte, R*rb)
		Quantize(d, buf, randVec(r, R*C, 0.02))
		m, err := NewPacked(d, buf, R, C)
		if err != nil {
			b.Fatal(err)
		}
		buf = nil
		inp, out := randVec(r, C, 1), make([]float32, R)
		b.Run(d.String(), func(b *testing.B) {
			for b.Loop() {
				m.MatMul(out, inp, 1)
			}
			b.ReportMetric(float64(len(m.data))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
