package tensor

//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -o kernels_amd64.s
//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -arm64 -o kernels_arm64.s

import (
	"fmt"
	"math"
	"unsafe"
)

// kernels is one instruction-set's set of inner loops. The drivers in
// gemm.go and ops.go are shared; only these leaf routines differ, so every
// SIMD path is tested against the pure-Go one through the same driver.
type kernels struct {
	name  string
	width int // float32 lanes per vector: dot/axpy/dot4/bf16 take n a multiple of it
	// mr×nr register tile of gemmR/gemmP (see tensor/internal/asmgen).
	mr, nr int
	gemmR  func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accum int)
	gemmP  func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accum int)
	dot    func(a, b *float32, n int) float32
	axpy   func(y, x *float32, alpha float32, n int)
	dot4   func(x, w *float32, ldw, n int) (r0, r1, r2, r3 float32)
	bf16   func(dst *float32, src *uint16, n int)
	// swiglu sets out = silu(gate)·up for n a multiple of width; nil:
	// the scalar loop (which calls math.Exp per element).
	swiglu func(out, gate, up *float32, n int)
	// axpy4 adds Σ_r a[r]·x_r to y for four rows x_r = x + r·ldx bytes.
	axpy4 func(y, x *float32, ldx int, a *float32, n int)
	// packRows lays kl rows (lds bytes apart) of np·nr floats out as np
	// panels of kl×nr (gemmNN's B); nil: packRowsGo.
	packRows func(dst, src *float32, lds, kl, np int)
	// transpose8 sets dst[k*ldd/4 + r] = src[r*lds/4 + k] for r < 8, k < n,
	// n a multiple of 8 (MatMul's activation panels); nil: a Go loop.
	transpose8 func(dst *float32, ldd int, src *float32, lds, n int)
	// expShift sets x[i] = e^(x[i]-m) for n a multiple of 8 and returns
	// their sum; nil: math.Exp per element.
	expShift func(x *float32, n int, m float32) float64
	// prefetch asks for rows rows of bytes bytes, ld bytes apart, to be
	// brought into L2; nil where no such instruction is wired up.
	prefetch func(p *float32, ld, rows, bytes int)
	// f16 is decode attention straight from a half-precision cache
	// (attn_f16.go); nil: the rows are widened into scratch first.
	f16 *f16DecodeKernels
}

var implGo = &kernels{
	name: "go", width: 1, mr: 4, nr: 16,
	gemmR: sgemmGoR, gemmP: sgemmGoP,
	dot: dotGo, axpy: axpyGo, dot4: dot4Go, bf16: bf16Go, axpy4: axpy4Go,
}

// available lists the kernel sets this CPU runs, fastest first; impl is the
// one in use. Tests switch impl to check each set against the others.
var (
	available = []*kernels{implGo}
	impl      = implGo
)

// KernelName reports which instruction set the kernels use ("avx512",
// "avx2" or "go"), for benchmarks and logs.
func KernelName() string { return impl.name }

func f32s(p *float32, n int) []float32 { return unsafe.Slice(p, n) }

// sgemmGoR and sgemmGoP are the portable twins of the assembly
// micro-kernels; lda, ldb and ldc are in bytes as there.
func sgemmGoR(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accum int) {
	sgemmGo(k, a, lda/4, 1, b, ldb/4, c, ldc/4, accum)
}

func sgemmGoP(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accum int) {
	sgemmGo(k, a, 1, lda/4, b, ldb/4, c, ldc/4, accum)
}

// sgemmGo computes the 4×16 tile C = A·B (+C), A(i,k) = a[i*ri + k*rk].
func sgemmGo(k int, a *float32, ri, rk int, b *float32, ldb int, c *float32, ldc int, accum int) {
	const mr, nr = 4, 16
	var acc [mr][nr]float32
	if k > 0 {
		av := f32s(a, (mr-1)*ri+(k-1)*rk+1)
		bv := f32s(b, (k-1)*ldb+nr)
		for p := 0; p < k; p++ {
			brow := (*[nr]float32)(bv[p*ldb : p*ldb+nr])
			for i := 0; i < mr; i++ {
				x := av[i*ri+p*rk]
				row := &acc[i]
				for j := range row {
					row[j] += x * brow[j]
				}
			}
		}
	}
	cv := f32s(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i++ {
		dst := (*[nr]float32)(cv[i*ldc : i*ldc+nr])
		if accum != 0 {
			for j := range dst {
				dst[j] += acc[i][j]
			}
		} else {
			*dst = acc[i]
		}
	}
}

func dotGo(a, b *float32, n int) float32 {
	if n == 0 {
		return 0
	}
	return dotRef(f32s(a, n), f32s(b, n))
}

func dotRef(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo(y, x *float32, alpha float32, n int) {
	if n == 0 {
		return
	}
	yv, xv := f32s(y, n), f32s(x, n)
	for i := range yv {
		yv[i] += alpha * xv[i]
	}
}

func axpy4Go(y, x *float32, ldx int, a *float32, n int) {
	if n == 0 {
		return
	}
	yv, xv, av := f32s(y, n), f32s(x, 3*ldx/4+n), f32s(a, 4)
	for r := 0; r < 4; r++ {
		row := xv[r*ldx/4 : r*ldx/4+n]
		for i := range yv {
			yv[i] += av[r] * row[i]
		}
	}
}

func dot4Go(x, w *float32, ldw, n int) (r0, r1, r2, r3 float32) {
	if n == 0 {
		return
	}
	xv := f32s(x, n)
	wv := f32s(w, 3*ldw/4+n)
	row := func(r int) float32 { return dotRef(xv, wv[r*ldw/4:r*ldw/4+n]) }
	return row(0), row(1), row(2), row(3)
}

func bf16Go(dst *float32, src *uint16, n int) {
	if n == 0 {
		return
	}
	d, s := f32s(dst, n), unsafe.Slice(src, n)
	for i, v := range s {
		d[i] = math.Float32frombits(uint32(v) << 16)
	}
}

// KernelSets lists the float32 kernel sets this CPU runs, fastest first
// (the portable "go" set last): the names UseKernels takes.
func KernelSets() []string {
	var names []string
	for _, k := range available {
		names = append(names, k.name)
	}
	return names
}

// UseKernels switches every float32 kernel to the named set (one of
// KernelSets) and returns a function that restores the previous one, so
// tests and benchmarks can run the same code through each instruction set
// in one process. It must not be called while kernels run.
func UseKernels(name string) (restore func(), err error) {
	for _, k := range available {
		if k.name == name {
			saved := impl
			impl = k
			return func() { impl = saved }, nil
		}
	}
	return nil, fmt.Errorf("tensor: no kernel set %q on this CPU (have %v)", name, KernelSets())
}
