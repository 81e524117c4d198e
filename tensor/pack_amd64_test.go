//go:build amd64 && !purego

package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestPackRows32 runs the AVX-512 set's panel copy (AVX2 instructions, so
// it runs wherever AVX2 does) against the Go copy, so it is checked on
// machines without AVX-512 too.
func TestPackRows32(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	asm := &kernels{nr: 32, packRows: packRows32AVX2}
	goSet := &kernels{nr: 32}
	r := rand.New(rand.NewPCG(16, 17))
	for _, sh := range []struct{ N, kl, n0, n1 int }{{32, 1, 0, 32}, {100, 9, 3, 99}, {700, 256, 40, 680}} {
		b := randVec(r, (sh.kl+1)*sh.N)
		np := (sh.n1 - sh.n0 + 31) / 32
		got, want := randVec(r, np*sh.kl*32), randVec(r, np*sh.kl*32)
		packRows(asm, got, b, sh.N, 1, sh.kl, sh.n0, sh.n1)
		packRows(goSet, want, b, sh.N, 1, sh.kl, sh.n0, sh.n1)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: element %d: got %g, want %g", sh, i, got[i], want[i])
			}
		}
	}
}
