package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// go test ./tensor -run '^$' -bench 'MatMul|MatVec' -benchtime 2s
func BenchmarkMatMul(b *testing.B) {
	for _, sh := range []struct{ T, C, OC int }{
		{1024, 1024, 1024}, {128, 1536, 1536}, {128, 1536, 8960}, {128, 8960, 1536},
	} {
		b.Run(fmt.Sprintf("%s/T=%d,C=%d,OC=%d", impl.name, sh.T, sh.C, sh.OC), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			inp, w := randVec(r, sh.T*sh.C), randVec(r, sh.OC*sh.C)
			out := make([]float32, sh.T*sh.OC)
			for b.Loop() {
				MatMul(out, inp, w, nil, sh.T, sh.C, sh.OC)
			}
			b.ReportMetric(2*float64(sh.T*sh.C*sh.OC)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkMatMulBackward(b *testing.B) {
	for _, sh := range []struct{ T, C, OC int }{{256, 1536, 1536}, {1024, 1024, 1024}} {
		b.Run(fmt.Sprintf("%s/T=%d,C=%d,OC=%d", impl.name, sh.T, sh.C, sh.OC), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			inp, w, dout := randVec(r, sh.T*sh.C), randVec(r, sh.OC*sh.C), randVec(r, sh.T*sh.OC)
			dinp, dw := make([]float32, sh.T*sh.C), make([]float32, sh.OC*sh.C)
			for b.Loop() {
				MatMulBackward(dinp, dw, nil, dout, inp, w, sh.T, sh.C, sh.OC)
			}
			b.ReportMetric(4*float64(sh.T*sh.C*sh.OC)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// MatVec is decode: one token against a weight matrix, bound by how fast
// the weights stream from memory (GB/s of weights read).
func BenchmarkMatVec(b *testing.B) {
	for _, sh := range []struct{ C, OC int }{{1536, 1536}, {1536, 8960}, {8960, 1536}} {
		b.Run(fmt.Sprintf("%s/C=%d,OC=%d", impl.name, sh.C, sh.OC), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			// Several matrices so the set exceeds the caches, as a model does.
			const n = 8
			ws := make([][]float32, n)
			for i := range ws {
				ws[i] = randVec(r, sh.OC*sh.C)
			}
			inp := randVec(r, sh.C)
			out := make([]float32, sh.OC)
			i := 0
			for b.Loop() {
				MatMul(out, inp, ws[i%n], nil, 1, sh.C, sh.OC)
				i++
			}
			b.ReportMetric(4*float64(sh.C*sh.OC)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

func BenchmarkBF16ToF32(b *testing.B) {
	src := make([]uint16, 1<<20)
	dst := make([]float32, len(src))
	for b.Loop() {
		BF16ToF32(dst, src)
	}
	b.ReportMetric(float64(6*len(src))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
