package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// forEachImpl runs fn once per kernel set this CPU supports (always
// including the pure-Go one), restoring the default afterwards.
func forEachImpl(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	saved := impl
	defer func() { impl = saved }()
	for _, k := range available {
		impl = k
		t.Run(k.name, fn)
	}
}

// checkClose fails with the worst element when got and want differ by more
// than tol × scale[i] (scale: the sum of |terms| behind each element).
func checkClose(t *testing.T, what string, got, want, scale []float64, tol float64) {
	t.Helper()
	worst, wi := 0.0, -1
	for i := range want {
		d := math.Abs(got[i]-want[i]) / (scale[i] + 1e-30)
		if d > worst || math.IsNaN(got[i]) {
			worst, wi = d, i
		}
	}
	if worst > tol {
		t.Fatalf("%s: worst element %d: got %g, want %g (error %.3g × scale, tolerance %g)",
			what, wi, got[wi], want[wi], worst, tol)
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// matmulRef is the plain float64 definition of MatMul, with the sum of
// absolute terms per element as the error scale.
func matmulRef(inp, w, bias []float32, T, C, OC int) (out, scale []float64) {
	out = make([]float64, T*OC)
	scale = make([]float64, T*OC)
	for t := 0; t < T; t++ {
		for o := 0; o < OC; o++ {
			var s, a float64
			if bias != nil {
				s, a = float64(bias[o]), math.Abs(float64(bias[o]))
			}
			for c := 0; c < C; c++ {
				p := float64(inp[t*C+c]) * float64(w[o*C+c])
				s += p
				a += math.Abs(p)
			}
			out[t*OC+o], scale[t*OC+o] = s, a
		}
	}
	return out, scale
}

var matmulShapes = []struct{ T, C, OC int }{
	{1, 1, 1}, {1, 7, 5}, {1, 64, 64}, {2, 33, 13}, {3, 100, 9}, {4, 17, 12},
	{5, 16, 12}, {13, 31, 7}, {32, 64, 24}, {33, 129, 25}, {47, 520, 37},
	{100, 1030, 200}, {130, 48, 193}, {64, 3, 400},
	// Several k-blocks, column blocks and row blocks of gemmNN, with
	// ragged edges on every side (dinp: M=T, N=C, K=OC; dw: M=OC, N=C, K=T).
	{77, 300, 530}, {262, 141, 35},
	// Rows a multiple of 4 KiB apart (weights in MatMul, dout in dinp).
	{20, 1024, 50}, {9, 40, 1024},
}

func TestMatMul(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, sh := range matmulShapes {
			for _, withBias := range []bool{false, true} {
				inp := randVec(r, sh.T*sh.C)
				w := randVec(r, sh.OC*sh.C)
				var bias []float32
				if withBias {
					bias = randVec(r, sh.OC)
				}
				out := randVec(r, sh.T*sh.OC) // stale contents must be overwritten
				MatMul(out, inp, w, bias, sh.T, sh.C, sh.OC)
				want, scale := matmulRef(inp, w, bias, sh.T, sh.C, sh.OC)
				checkClose(t, fmt.Sprintf("T=%d C=%d OC=%d bias=%v", sh.T, sh.C, sh.OC, withBias),
					f64(out), want, scale, 1e-5)
			}
		}
	})
}

func TestMatMulBackward(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, sh := range matmulShapes {
			T, C, OC := sh.T, sh.C, sh.OC
			inp := randVec(r, T*C)
			w := randVec(r, OC*C)
			dout := randVec(r, T*OC)
			dinp := randVec(r, T*C)
			dw := randVec(r, OC*C)
			dbias := randVec(r, OC)
			wantDinp, sDinp := f64(dinp), make([]float64, T*C)
			wantDw, sDw := f64(dw), make([]float64, OC*C)
			wantDb, sDb := f64(dbias), make([]float64, OC)
			for t := 0; t < T; t++ {
				for o := 0; o < OC; o++ {
					g := float64(dout[t*OC+o])
					wantDb[o] += g
					sDb[o] += math.Abs(g)
					for c := 0; c < C; c++ {
						p := g * float64(w[o*C+c])
						wantDinp[t*C+c] += p
						sDinp[t*C+c] += math.Abs(p)
						q := g * float64(inp[t*C+c])
						wantDw[o*C+c] += q
						sDw[o*C+c] += math.Abs(q)
					}
				}
			}
			for i := range sDinp {
				sDinp[i] += math.Abs(float64(dinp[i]))
			}
			for i := range sDw {
				sDw[i] += math.Abs(float64(dw[i]))
			}
			for i := range sDb {
				sDb[i] += math.Abs(float64(dbias[i]))
			}
			MatMulBackward(dinp, dw, dbias, dout, inp, w, T, C, OC)
			name := fmt.Sprintf("T=%d C=%d OC=%d", T, C, OC)
			checkClose(t, name+" dinp", f64(dinp), wantDinp, sDinp, 1e-5)
			checkClose(t, name+" dw", f64(dw), wantDw, sDw, 1e-5)
			checkClose(t, name+" dbias", f64(dbias), wantDb, sDb, 1e-5)
		}
	})
}

func TestMatMulBackwardNilGrads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	T, C, OC := 20, 40, 30
	inp, w, dout := randVec(r, T*C), randVec(r, OC*C), randVec(r, T*OC)
	dw := make([]float32, OC*C)
	MatMulBackward(nil, dw, nil, dout, inp, w, T, C, OC)
	full := make([]float32, OC*C)
	MatMulBackward(make([]float32, T*C), full, make([]float32, OC), dout, inp, w, T, C, OC)
	checkClose(t, "dw alone", f64(dw), f64(full), make([]float64, len(full)), 0)
}

func TestVectorKernels(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range []int{0, 1, 5, 8, 15, 16, 17, 31, 63, 64, 65, 100, 1000, 1031} {
			a, b := randVec(r, n), randVec(r, n)
			var want, scale float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				scale += math.Abs(float64(a[i]) * float64(b[i]))
			}
			checkClose(t, fmt.Sprintf("Dot n=%d", n), []float64{float64(Dot(a, b))}, []float64{want}, []float64{scale}, 1e-6)

			y := randVec(r, n)
			wantY := make([]float64, n)
			for i := range y {
				wantY[i] = float64(y[i]) + 0.75*float64(a[i])
			}
			Axpy(y, a, 0.75)
			ones := make([]float64, n)
			for i := range ones {
				ones[i] = 1
			}
			checkClose(t, fmt.Sprintf("Axpy n=%d", n), f64(y), wantY, ones, 1e-6)

			src := make([]uint16, n)
			for i := range src {
				src[i] = uint16(r.Uint32())
			}
			got := make([]float32, n)
			BF16ToF32(got, src)
			for i, v := range src {
				if g, w := math.Float32bits(got[i]), uint32(v)<<16; g != w {
					t.Fatalf("BF16ToF32 n=%d element %d: got %#x, want %#x", n, i, g, w)
				}
			}
		}
	})
}

func TestParallelFor(t *testing.T) {
	saved := Threads()
	defer SetThreads(saved)
	for _, nt := range []int{1, 2, 3, 8} {
		SetThreads(nt)
		for _, n := range []int{0, 1, 2, 7, 100} {
			hits := make([]int, n)
			ParallelFor(n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					hits[i]++
					// A nested call runs inline rather than deadlocking.
					ParallelFor(2, func(int, int) {})
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("threads=%d n=%d: index %d visited %d times, want 1", nt, n, i, h)
				}
			}
		}
	}
	// Concurrent callers: one gets the pool, the others run inline.
	SetThreads(2)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			inp, w := randVec(r, 40*70), randVec(r, 50*70)
			out := make([]float32, 40*50)
			for i := 0; i < 20; i++ {
				MatMul(out, inp, w, nil, 40, 70, 50)
			}
			want, scale := matmulRef(inp, w, nil, 40, 70, 50)
			checkClose(t, "concurrent MatMul", f64(out), want, scale, 1e-5)
		}()
	}
	wg.Wait()
}

// TestParallelForCompletes runs many short ops back to back, some long
// enough for the caller to stop polling and sleep, with other goroutines
// taking the cores: every op must have run all of its ranges when
// ParallelFor returns (the race detector also sees a worker still writing).
// An op that returns early, or a wake-up that gets lost, fails or hangs here.
func TestParallelForCompletes(t *testing.T) {
	saved := Threads()
	defer SetThreads(saved)
	ops := 20000
	if testing.Short() {
		ops = 3000
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	for g := 0; g < 2; g++ {
		bg.Add(1)
		go func() { // preempts the pool's threads at random points
			defer bg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
		}()
	}
	defer func() { close(stop); bg.Wait() }()
	for _, nt := range []int{2, 3} {
		SetThreads(nt)
		hits := make([]int, 8)
		for op := 0; op < ops; op++ {
			n := 2 + op%7
			spin := 0
			if op%5 == 0 {
				spin = 20000 // ~100 µs: the caller sleeps on done
			}
			ParallelFor(n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					x := 0
					for k := 0; k < spin; k++ {
						x += k ^ i
					}
					hits[i] += 1 + x&0 // x keeps the loop
				}
			})
			for i := 0; i < n; i++ {
				if hits[i] != 1 {
					t.Fatalf("threads=%d op %d: index %d ran %d times when ParallelFor returned, want 1", nt, op, i, hits[i])
				}
				hits[i] = 0
			}
		}
	}
}

func TestMatMulNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r := rand.New(rand.NewPCG(10, 11))
	for _, T := range []int{1, 64} {
		C, OC := 256, 96
		inp, w := randVec(r, T*C), randVec(r, OC*C)
		out := make([]float32, T*OC)
		dinp, dw := make([]float32, T*C), make([]float32, OC*C)
		MatMul(out, inp, w, nil, T, C, OC) // warm the scratch pools
		MatMulBackward(dinp, dw, nil, out, inp, w, T, C, OC)
		allocs := testing.AllocsPerRun(20, func() {
			MatMul(out, inp, w, nil, T, C, OC)
			MatMulBackward(dinp, dw, nil, out, inp, w, T, C, OC)
		})
		// sync.Pool may drop an entry at a GC; anything near one per call
		// would mean a per-call allocation.
		if allocs > 0.5 {
			t.Errorf("T=%d: %.1f allocations per MatMul+MatMulBackward, want 0", T, allocs)
		}
	}
}

// f32Decoder serves a float32 matrix through RowDecoder, counting calls
// outside DecodeAlign.
type f32Decoder struct {
	w   []float32
	C   int
	bad int
}

func (d *f32Decoder) DecodeRows(dst []float32, r0, r1, c0, c1 int) {
	if c0%DecodeAlign != 0 || ((c1-c0)%DecodeAlign != 0 && c1 != d.C) {
		d.bad++
	}
	n := c1 - c0
	for r := r0; r < r1; r++ {
		copy(dst[(r-r0)*n:(r-r0+1)*n], d.w[r*d.C+c0:r*d.C+c1])
	}
}

func TestMatMulDecoded(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(12, 13))
		for _, sh := range matmulShapes {
			inp, w, bias := randVec(r, sh.T*sh.C), randVec(r, sh.OC*sh.C), randVec(r, sh.OC)
			out := randVec(r, sh.T*sh.OC)
			dec := &f32Decoder{w: w, C: sh.C}
			MatMulDecoded(out, inp, dec, bias, sh.T, sh.C, sh.OC)
			want, scale := matmulRef(inp, w, bias, sh.T, sh.C, sh.OC)
			checkClose(t, fmt.Sprintf("T=%d C=%d OC=%d", sh.T, sh.C, sh.OC), f64(out), want, scale, 1e-5)
			if dec.bad != 0 {
				t.Fatalf("T=%d C=%d OC=%d: %d DecodeRows calls off DecodeAlign", sh.T, sh.C, sh.OC, dec.bad)
			}
		}
	})
}

// TestRowKernels checks dot4 and axpy4, the four-rows-at-a-stride kernels
// attention runs over the KV cache, against float64 sums.
func TestRowKernels(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, n := range []int{16, 32, 128, 256} {
			if n%impl.width != 0 {
				continue
			}
			ld := n + 48 // rows apart by more than their length, as in a cache
			x, w := randVec(r, n), randVec(r, 3*ld+n)
			r0, r1, r2, r3 := impl.dot4(&x[0], &w[0], 4*ld, n)
			for row, got := range []float32{r0, r1, r2, r3} {
				var want, scale float64
				for i := 0; i < n; i++ {
					p := float64(x[i]) * float64(w[row*ld+i])
					want += p
					scale += math.Abs(p)
				}
				checkClose(t, fmt.Sprintf("dot4 n=%d row %d", n, row), []float64{float64(got)}, []float64{want}, []float64{scale}, 1e-6)
			}
			y := randVec(r, n)
			a := []float32{0.5, -1.25, 2, 0.125}
			want, scale := make([]float64, n), make([]float64, n)
			for i := range y {
				want[i], scale[i] = float64(y[i]), math.Abs(float64(y[i]))
				for row := 0; row < 4; row++ {
					p := float64(a[row]) * float64(w[row*ld+i])
					want[i] += p
					scale[i] += math.Abs(p)
				}
			}
			impl.axpy4(&y[0], &w[0], 4*ld, &a[0], n)
			checkClose(t, fmt.Sprintf("axpy4 n=%d", n), f64(y), want, scale, 1e-6)
		}
	})
}

// TestPackKernels checks each set's packing routines (assembly where the
// set has them) against their definitions, over ragged panel counts and
// strides, including the prefetch past the last row.
func TestPackKernels(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(14, 15))
		nr := impl.nr
		for _, sh := range []struct{ N, kl, n0, n1 int }{
			{16, 1, 0, 16}, {40, 3, 0, 40}, {100, 7, 3, 99}, {300, 33, 17, 300}, {129, 256, 0, 129},
		} {
			b := randVec(r, (sh.kl+2)*sh.N)
			np := (sh.n1 - sh.n0 + nr - 1) / nr
			dst := randVec(r, np*sh.kl*nr)
			packRows(impl, dst, b, sh.N, 2, sh.kl, sh.n0, sh.n1)
			for p := 0; p < np; p++ {
				for k := 0; k < sh.kl; k++ {
					for j := 0; j < nr; j++ {
						var want float32
						if col := sh.n0 + p*nr + j; col < sh.n1 {
							want = b[(2+k)*sh.N+col]
						}
						if got := dst[p*sh.kl*nr+k*nr+j]; got != want {
							t.Fatalf("packRows %+v: panel %d k %d j %d: got %g, want %g", sh, p, k, j, got, want)
						}
					}
				}
			}
		}
		if impl.transpose8 == nil {
			return
		}
		for _, sh := range []struct{ lds, ldd, n int }{{8, 8, 8}, {19, 16, 16}, {1031, 32, 1024}} {
			src := randVec(r, 7*sh.lds+sh.n)
			dst := randVec(r, (sh.n-1)*sh.ldd+8)
			want := append([]float32(nil), dst...)
			for k := 0; k < sh.n; k++ {
				for j := 0; j < 8; j++ {
					want[k*sh.ldd+j] = src[j*sh.lds+k]
				}
			}
			impl.transpose8(&dst[0], sh.ldd*4, &src[0], sh.lds*4, sh.n)
			for i := range want {
				if dst[i] != want[i] {
					t.Fatalf("transpose8 %+v: element %d: got %g, want %g", sh, i, dst[i], want[i])
				}
			}
		}
	})
}
