package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ragtune/tensor"
	"ragtune/weights"
)

// randBlocks returns rows×nb raw GGUF blocks with scales of either sign
// and quants over the whole byte range (Q8_0 -128 included, which our
// quantizer never writes but other files may).
func randBlocks(r *rand.Rand, q4 bool, rows, nb int) []byte {
	bs := Q8_0BlockBytes
	if q4 {
		bs = Q4_0BlockBytes
	}
	b := make([]byte, rows*nb*bs)
	for i := 0; i < rows*nb; i++ {
		blk := b[i*bs : (i+1)*bs]
		h := tensor.FloatToHalf(float32(r.NormFloat64()) * 0.01)
		blk[0], blk[1] = byte(h), byte(h>>8)
		for j := 2; j < bs; j++ {
			blk[j] = byte(r.IntN(256))
		}
	}
	return b
}

// TestTileKernels runs every kernel of every tile set this CPU has (each
// panel width n = 1…12, each tile count r) straight against tileGemmGo, on
// random blocks, with ldo wider than the tiles so a stray store shows.
// The blocks include the extremes the int16 formulation of the AVX2
// kernels must survive: Q8_0 weights of -128 against activations of ∓127;
// the activation panel ends at an inaccessible page, so an overread faults.
func TestTileKernels(t *testing.T) {
	if len(tileSets) == 0 {
		t.Skip("no assembly tile kernels on this CPU")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, ts := range tileSets {
		for q4 := 0; q4 < 2; q4++ {
			d := weights.Q8_0
			if q4 == 1 {
				d = weights.Q4_0
			}
			for n := 1; n <= tileTokens; n++ {
				for rr := 1; rr <= len(ts.kernels[q4][n]); rr++ {
					for _, nb := range []int{0, 1, 2 + r.IntN(7)} {
						rows := 16 * rr
						raw := randBlocks(r, q4 == 1, rows, nb)
						x := randVec(r, n*nb*BlockSize, 1)
						if nb > 0 && q4 == 0 {
							// Row 0, block 0: all -128 weights; token 0's first
							// block at -amax throughout (quantized to -127).
							for j := 2; j < Q8_0BlockBytes; j++ {
								raw[j] = 0x80
							}
							for j := 0; j < BlockSize; j++ {
								x[j] = -2
							}
						}
						m := &Packed{}
						if nb > 0 {
							var err error
							if m, err = NewPacked(d, raw, rows, nb*BlockSize); err != nil {
								t.Fatal(err)
							}
						}
						off := int32(128)
						if q4 == 1 {
							off = 8
						}
						// The panel ends at an inaccessible page: kernels must
						// not read past it.
						panel := guardedBytes(t, max(1, nb*n*panelBlock))
						for i := 0; i < n; i++ {
							quantRowGo(x[i*nb*BlockSize:(i+1)*nb*BlockSize], panel, n, i, off)
						}
						ldo := rows + 5
						got := make([]float32, n*ldo)
						want := make([]float32, n*ldo)
						for i := range got {
							got[i], want[i] = float32(math.NaN()), float32(math.NaN())
						}
						w := m.data
						if nb == 0 {
							w = make([]byte, 1)
						}
						ts.kernels[q4][n][rr-1](&w[0], m.stride, &panel[0], nb, &got[0], ldo)
						tileGemmGo(q4 == 1, n, rr, w, m.stride, panel, nb, want, ldo)
						for i := range got {
							g, wv := got[i], want[i]
							if math.IsNaN(float64(wv)) {
								if !math.IsNaN(float64(g)) {
									t.Fatalf("%s %s n=%d r=%d nb=%d: wrote out[%d] (token %d, col %d) outside the tiles", ts.name, d, n, rr, nb, i, i/ldo, i%ldo)
								}
								continue
							}
							if diff := math.Abs(float64(g - wv)); diff > 1e-5*(1+math.Abs(float64(wv))) || math.IsNaN(float64(g)) {
								t.Fatalf("%s %s n=%d r=%d nb=%d: out[%d] (token %d, row %d) = %g, want %g", ts.name, d, n, rr, nb, i, i/ldo, i%ldo, g, wv)
							}
						}
					}
				}
			}
		}
	}
}

func TestUseKernels(t *testing.T) {
	def := KernelName()
	for _, name := range KernelSets() {
		restore, err := UseKernels(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := KernelName(); got != name {
			t.Errorf("UseKernels(%q): KernelName() = %q", name, got)
		}
		if want := strings.HasSuffix(name, "-tiles"); PackedAvailable() != want {
			t.Errorf("UseKernels(%q): PackedAvailable() = %v", name, !want)
		}
		restore()
		if got := KernelName(); got != def {
			t.Errorf("after restoring from %q: KernelName() = %q, want %q", name, got, def)
		}
	}
	if _, err := UseKernels("avx1024"); err == nil {
		t.Error("UseKernels(avx1024): no error")
	}
}

// TestTileSelfCheck: every set this CPU runs passes the start-up check,
// and a set with a wrong kernel (Q4_0 kernels run on Q8_0 tiles) or a
// wrong activation quantizer fails it.
func TestTileSelfCheck(t *testing.T) {
	if len(tileSets) == 0 {
		t.Skip("no assembly tile kernels on this CPU")
	}
	for _, ts := range tileSets {
		if !tileSelfCheck(ts) {
			t.Errorf("%s fails its self-check", ts.name)
		}
		swapped := *ts.kernels
		swapped[0], swapped[1] = swapped[1], swapped[0]
		if tileSelfCheck(&tileSet{name: "swapped", kernels: &swapped, quantRow: ts.quantRow}) {
			t.Errorf("%s with Q8_0/Q4_0 kernels swapped passes the self-check", ts.name)
		}
		badQuant := func(x *float32, q *byte, qstride int, d *float32, s *int32, rec int, off int32, nb int) {
			*s = 1
		}
		if tileSelfCheck(&tileSet{name: "bad quantRow", kernels: ts.kernels, quantRow: badQuant}) {
			t.Errorf("%s with a broken activation quantizer passes the self-check", ts.name)
		}
	}
}
