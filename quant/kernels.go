package quant

//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -o kernels_amd64.s
//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -decls -o tiles_amd64.go
//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -tiles -o tiles.go
//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -arm64 -o kernels_arm64.s
//go:generate go run internal/asmgen/main.go internal/asmgen/arm64.go -decls-arm64 -o tiles_arm64.go

import (
	"fmt"
	"unsafe"
)

// kernels is one instruction set's block dot products. Each takes a weight
// row w of nb blocks and activations quantized to int8 (xq, nb*32 per
// token) with one float32 scale per block (xd, nb per token); the 4-token
// forms read tokens t < 4 at xq + t*nb*32 and xd + t*nb, so one load of a
// weight block serves four tokens.
type kernels struct {
	name   string
	q8dot  func(w *byte, xq *int8, xd *float32, nb int) float32
	q8dot4 func(w *byte, xq *int8, xd *float32, nb int) (r0, r1, r2, r3 float32)
	// The Q4_0 forms also take xb: per block 8 int32, the first -8·Σy
	// (the rest 0), which turns Σ q·y over unsigned nibbles into Σ (q-8)·y.
	q4dot  func(w *byte, xq *int8, xd *float32, xb *int32, nb int) float32
	q4dot4 func(w *byte, xq *int8, xd *float32, xb *int32, nb int) (r0, r1, r2, r3 float32)
	// dequant8/dequant4 expand nb blocks to float32 (the prefill path).
	dequant8 func(dst *float32, src *byte, nb int)
	dequant4 func(dst *float32, src *byte, nb int)
}

var implGo = &kernels{name: "go", q8dot: q8dotGo, q8dot4: q8dot4Go, q4dot: q4dotGo, q4dot4: q4dot4Go,
	dequant8: dequant8Go, dequant4: dequant4Go}

func dequant8Go(dst *float32, src *byte, nb int) {
	if nb > 0 {
		DequantizeQ8_0(unsafe.Slice(dst, nb*BlockSize), unsafe.Slice(src, nb*Q8_0BlockBytes))
	}
}

func dequant4Go(dst *float32, src *byte, nb int) {
	if nb > 0 {
		DequantizeQ4_0(unsafe.Slice(dst, nb*BlockSize), unsafe.Slice(src, nb*Q4_0BlockBytes))
	}
}

var (
	available = []*kernels{implGo}
	impl      = implGo
)

// tileSet is one instruction set's Packed kernels: kernels[q4][n][r-1]
// multiplies r 16-row tiles by an n-token panel, and quantRow quantizes a
// token into a panel (nil: quantRowGo).
type tileSet struct {
	name     string
	kernels  *[2][tileTokens + 1][]tileKernel
	quantRow func(x *float32, q *byte, qstride int, d *float32, s *int32, rec int, off int32, nb int)
}

// tileSets lists the Packed kernel sets this CPU runs, fastest first; tiles
// is the one in use, nil where there is none (Loader then keeps the GGUF
// layout, and a Packed matrix runs the Go reference). Tests switch tiles to
// check each set against the reference.
var (
	tileSets []*tileSet
	tiles    *tileSet
)

// KernelName reports the instruction set of the quantized matrix products
// that Loader's matrices use.
func KernelName() string {
	if tiles != nil {
		return tiles.name
	}
	return impl.name
}

func q8dotGo(w *byte, xq *int8, xd *float32, nb int) float32 {
	if nb == 0 {
		return 0
	}
	wb := unsafe.Slice(w, nb*Q8_0BlockBytes)
	q := unsafe.Slice(xq, nb*BlockSize)
	d := unsafe.Slice(xd, nb)
	var sum float32
	for b := 0; b < nb; b++ {
		blk := wb[b*Q8_0BlockBytes : b*Q8_0BlockBytes+Q8_0BlockBytes]
		x := q[b*BlockSize : b*BlockSize+BlockSize]
		var s int32
		for j, v := range x {
			s += int32(int8(blk[2+j])) * int32(v)
		}
		sum += float32(s) * (getHalf(blk) * d[b])
	}
	return sum
}

func q4dotGo(w *byte, xq *int8, xd *float32, _ *int32, nb int) float32 {
	if nb == 0 {
		return 0
	}
	wb := unsafe.Slice(w, nb*Q4_0BlockBytes)
	q := unsafe.Slice(xq, nb*BlockSize)
	d := unsafe.Slice(xd, nb)
	var sum float32
	for b := 0; b < nb; b++ {
		blk := wb[b*Q4_0BlockBytes : b*Q4_0BlockBytes+Q4_0BlockBytes]
		x := q[b*BlockSize : b*BlockSize+BlockSize]
		var s int32
		for j := 0; j < BlockSize/2; j++ {
			s += (int32(blk[2+j]&0x0f) - 8) * int32(x[j])
			s += (int32(blk[2+j]>>4) - 8) * int32(x[j+16])
		}
		sum += float32(s) * (getHalf(blk) * d[b])
	}
	return sum
}

func q8dot4Go(w *byte, xq *int8, xd *float32, nb int) (r0, r1, r2, r3 float32) {
	return dot4With(q8dotGo, w, xq, xd, nb)
}

func q4dot4Go(w *byte, xq *int8, xd *float32, _ *int32, nb int) (r0, r1, r2, r3 float32) {
	q4 := func(w *byte, xq *int8, xd *float32, nb int) float32 { return q4dotGo(w, xq, xd, nil, nb) }
	return dot4With(q4, w, xq, xd, nb)
}

func dot4With(f func(*byte, *int8, *float32, int) float32, w *byte, xq *int8, xd *float32, nb int) (r0, r1, r2, r3 float32) {
	tok := func(t int) float32 {
		return f(w, (*int8)(unsafe.Add(unsafe.Pointer(xq), t*nb*BlockSize)),
			(*float32)(unsafe.Add(unsafe.Pointer(xd), t*nb*4)), nb)
	}
	return tok(0), tok(1), tok(2), tok(3)
}

// KernelSets lists the quantized kernel sets this CPU runs, fastest first:
// the Packed tile sets (e.g. "avx2-tiles"), the Packed layout through the
// Go reference ("go-tiles", never chosen by default: it is slow), then the
// block dot products of the GGUF layout ("avx2", "go"), which Loader uses
// where no tile set runs.
// These are the names UseKernels takes and KernelName reports.
func KernelSets() []string {
	var names []string
	for _, ts := range tileSets {
		names = append(names, ts.name)
	}
	names = append(names, goTiles.name)
	for _, k := range available {
		names = append(names, k.name)
	}
	return names
}

// UseKernels switches the quantized kernels to the named set (one of
// KernelSets) and returns a function that restores the previous choice.
// Naming a block set turns the tile kernels off, so Loader keeps the GGUF
// layout from then on (matrices loaded before keep theirs). For tests and
// benchmarks that run one model through each instruction set in one
// process; it must not be called while kernels run.
func UseKernels(name string) (restore func(), err error) {
	savedTiles, savedImpl := tiles, impl
	restore = func() { tiles, impl = savedTiles, savedImpl }
	for _, ts := range append(tileSets, goTiles) {
		if ts.name == name {
			tiles = ts
			return restore, nil
		}
	}
	for _, k := range available {
		if k.name == name {
			tiles, impl = nil, k
			return restore, nil
		}
	}
	return nil, fmt.Errorf("quant: no kernel set %q on this CPU (have %v)", name, KernelSets())
}

// usableTileSets returns the sets that pass tileSelfCheck, in order. Every
// set passes its tests on the CPUs and emulators we have, but the AVX-VNNI
// kernels could not run on any machine or emulator at hand when they were
// written (their instruction encodings were checked, not their results),
// so each set proves itself once at start-up, well under a millisecond,
// before Loader trusts it with a model; one that fails is left out and
// KernelName shows the set used instead.
func usableTileSets(sets []*tileSet) []*tileSet {
	var ok []*tileSet
	for _, ts := range sets {
		if tileSelfCheck(ts) {
			ok = append(ok, ts)
		}
	}
	return ok
}

// tileSelfCheck runs ts's kernels for panels of 1, 5 and 12 tokens (every
// tile count, both formats, three blocks of pseudo-random tiles and
// activations) and its activation quantizer, and compares them with the
// Go reference.
func tileSelfCheck(ts *tileSet) bool {
	const nb, maxTiles = 3, 4
	seed := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return seed
	}
	x := make([]float32, tileTokens*nb*BlockSize)
	for i := range x {
		x[i] = float32(int64(next()%2001)-1000) / 256
	}
	for q4 := 0; q4 < 2; q4++ {
		tb, off := 32+16*32, int32(128)
		if q4 == 1 {
			tb, off = 32+16*16, 8
		}
		w := make([]byte, maxTiles*nb*tb)
		for i := range w {
			w[i] = byte(next())
		}
		for t := 0; t < maxTiles*nb; t++ {
			for r := 0; r < tileRowsN; r++ {
				// f16 scales of either sign between 2^-8 and 2^-7
				h := 0x1c00 | uint16(next()&0x83ff)
				w[t*tb+2*r], w[t*tb+2*r+1] = byte(h), byte(h>>8)
			}
		}
		for _, n := range []int{1, 5, tileTokens} {
			panel := make([]byte, nb*n*panelBlock)
			want := make([]byte, len(panel))
			for i := 0; i < n; i++ {
				row := x[i*nb*BlockSize : (i+1)*nb*BlockSize]
				quantRowGo(row, want, n, i, off)
				if ts.quantRow != nil {
					ts.quantRow(&row[0], &panel[4*i], 4*n, (*float32)(unsafe.Pointer(&panel[32*n+4*i])),
						(*int32)(unsafe.Pointer(&panel[36*n+4*i])), n*panelBlock, off, nb)
				}
			}
			if ts.quantRow == nil {
				copy(panel, want)
			} else if string(panel) != string(want) {
				return false
			}
			for r, k := range ts.kernels[q4][n] {
				r++
				got := make([]float32, n*tileRowsN*r)
				ref := make([]float32, len(got))
				k(&w[0], nb*tb, &panel[0], nb, &got[0], tileRowsN*r)
				tileGemmGo(q4 == 1, n, r, w, nb*tb, panel, nb, ref, tileRowsN*r)
				for i := range got {
					d := got[i] - ref[i]
					if !(d <= 1e-4*(1+abs32(ref[i])) && -d <= 1e-4*(1+abs32(ref[i]))) {
						return false
					}
				}
			}
		}
	}
	return true
}
