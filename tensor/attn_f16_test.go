package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestF16DecodeKernels: decode attention read straight from an f16 cache
// by each kernel set that has the kernels, against the float64 reference on
// the values the cache holds: groups of 1–8 query heads (so 7 and 8 take two
// chunks, and 4–8 two for AVX2's scores), head sizes 64 and 128 (both column
// widths), lengths that leave 0–3 keys after the last group of four and
// lengths that span several blocks.
func TestF16DecodeKernels(t *testing.T) {
	eachKernelSet(t, func(t *testing.T) {
		if impl.f16 == nil {
			t.Skip("no f16 decode kernels in this set (the widening path is TestKVCache's)")
		}
		testF16Decode(t)
	})
}

func testF16Decode(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, HD := range []int{64, 128} {
		for G := 1; G <= 8; G++ {
			for _, L := range []int{1, 3, 6, 67, 130, 301} {
				NKV := 1 + G%2
				NH := G * NKV
				qd, kvd := NH*HD, NKV*HD
				q := attnRand(r, qd, 1)
				k := attnRand(r, L*kvd, 1)
				v := attnRand(r, L*kvd, 1)
				c := NewKVCache(KVF16, 1, kvd, L)
				c.Store(0, 0, k, v)
				got := make([]float32, qd)
				c.Attention(0, got, q, 1, L-1, NH, NKV, HD)
				want := attentionRef(q, roundF16(k), roundF16(v), 1, L-1, NH, NKV, HD)
				attnCheckClose(t, fmt.Sprintf("HD=%d G=%d NKV=%d L=%d", HD, G, NKV, L), got, want, 2e-6)
			}
		}
	}
}
