package quant

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"ragtune/weights"
)

// forEachTileImpl runs fn with each tile kernel set this CPU runs and with
// the Go reference kernels.
func forEachTileImpl(t *testing.T, fn func(t *testing.T)) {
	saved := tiles
	defer func() { tiles = saved }()
	for _, ts := range tileSets {
		tiles = ts
		t.Run(ts.name, fn)
	}
	tiles = nil
	t.Run("go", fn)
}

func randQMatrix(t *testing.T, r *rand.Rand, d weights.DType, R, C int) qmatrix {
	t.Helper()
	w := randVec(r, R*C, 0.02)
	rb, _ := RowBytes(d, C)
	buf := make([]byte, R*rb)
	if _, err := Quantize(d, buf, w); err != nil {
		t.Fatal(err)
	}
	q, err := newQMatrix(d, buf, R, C)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestPackedMatMul(t *testing.T) {
	forEachTileImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
			for _, sh := range []struct{ T, R, C int }{
				{1, 1, 32}, {1, 16, 64}, {1, 100, 96}, {2, 17, 64}, {3, 49, 128}, {4, 33, 32}, {5, 64, 96},
				{6, 40, 64}, {7, 16, 32}, {11, 31, 64}, {12, 48, 160}, {13, 20, 64}, {25, 65, 96}, {30, 200, 288},
			} {
				q := randQMatrix(t, r, d, sh.R, sh.C)
				m, err := NewPacked(d, q.data, sh.R, sh.C)
				if err != nil {
					t.Fatal(err)
				}
				inp := randVec(r, sh.T*sh.C, 1)
				out := randVec(r, sh.T*sh.R, 1)
				m.MatMul(out, inp, sh.T)
				want, scale := refMatMul(&q, inp, sh.T, true)
				worst, wi := worstError(out, want, scale)
				if worst > 1e-5 {
					t.Fatalf("%s T=%d R=%d C=%d: worst element %d (token %d, row %d): got %g, want %g (error %.3g × scale)",
						d, sh.T, sh.R, sh.C, wi, wi/sh.R, wi%sh.R, out[wi], want[wi], worst)
				}
			}
		}
	})
}

// TestPackedRow checks the embedding lookup against the GGUF layout's.
func TestPackedRow(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		q := randQMatrix(t, r, d, 37, 96)
		m, err := NewPacked(d, q.data, 37, 96)
		if err != nil {
			t.Fatal(err)
		}
		got, want := make([]float32, 96), make([]float32, 96)
		for row := 0; row < 37; row++ {
			m.Row(got, row)
			q.Row(want, row)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s row %d col %d: got %g, want %g", d, row, i, got[i], want[i])
				}
			}
		}
	}
}

// TestQuantRow: the assembly activation quantizers write the same panel
// bytes as the Go rule (quantizeActs), ties and zero blocks included.
func TestQuantRow(t *testing.T) {
	saved := tiles
	defer func() { tiles = saved }()
	ran := false
	for _, ts := range tileSets {
		if ts.quantRow != nil {
			tiles, ran = ts, true
			t.Run(ts.name, testQuantRow)
		}
	}
	if !ran {
		t.Skip("no assembly activation quantizer on this CPU")
	}
}

func testQuantRow(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const nb = 40
	x := randVec(r, nb*BlockSize, 3)
	clear(x[32:64]) // an all-zero block
	for i := 64; i < 96; i++ {
		// amax 127 so that x/d lands on exact halves: ±0.5, ±1.5, ...
		x[i] = float32(i-80) + 0.5
	}
	x[64] = 127
	for i := 96; i < 128; i++ {
		x[i] = 1e-30 * float32(i-100) // scales below f16's range
	}
	for i := 128; i < 160; i++ {
		x[i] = 3e5 * float32(r.NormFloat64()) // scales above it
	}
	for _, n := range []int{1, 5, 12} {
		for _, off := range []int32{8, 128} {
			for i := 0; i < n; i++ {
				got := make([]byte, nb*n*panelBlock)
				want := make([]byte, nb*n*panelBlock)
				quantizePanelRow(x, got, n, i, off)
				quantRowGo(x, want, n, i, off)
				if !bytes.Equal(got, want) {
					for j := range got {
						if got[j] != want[j] {
							t.Fatalf("n=%d slot %d off %d: panel byte %d (block %d): got %d, want %d", n, i, off, j, j/(n*panelBlock), got[j], want[j])
						}
					}
				}
			}
		}
	}
}

func TestPackedNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r := rand.New(rand.NewPCG(17, 18))
	q := randQMatrix(t, r, weights.Q4_0, 70, 256)
	m, _ := NewPacked(weights.Q4_0, q.data, 70, 256)
	for _, T := range []int{1, 16} {
		inp, out := randVec(r, T*256, 1), make([]float32, T*70)
		m.MatMul(out, inp, T)
		if a := testing.AllocsPerRun(20, func() { m.MatMul(out, inp, T) }); a > 0.5 {
			t.Errorf("T=%d: %.1f allocations per MatMul, want 0", T, a)
		}
	}
}
