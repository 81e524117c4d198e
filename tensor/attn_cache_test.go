package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// roundF16 returns s rounded to half precision, as a KVF16 cache keeps it.
func roundF16(s []float32) []float32 {
	r := make([]float32, len(s))
	for i, x := range s {
		r[i] = HalfToFloat(FloatToHalf(x))
	}
	return r
}

// TestKVCache fills caches of each type the way a forward pass does (a
// prefill in chunks, then decode steps, growing on demand) and checks every
// call against the float64 reference on the values the cache holds; the
// f32 cache is bit-identical to AttentionKV on plain slices.
func TestKVCache(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []struct{ NH, NKV, HD, chunk, prompt, gen int }{
		{12, 2, 128, 128, 300, 5},
		{6, 6, 64, 37, 90, 3},
		{8, 1, 64, 200, 520, 4},
		{7, 1, 128, 64, 129, 2},
	} {
		name := fmt.Sprintf("NH=%d,NKV=%d,HD=%d,chunk=%d,prompt=%d", tc.NH, tc.NKV, tc.HD, tc.chunk, tc.prompt)
		t.Run(name, func(t *testing.T) {
			eachKernelSet(t, func(t *testing.T) {
				N := tc.prompt + tc.gen
				qd, kvd := tc.NH*tc.HD, tc.NKV*tc.HD
				q := attnRand(r, N*qd, 1)
				k := attnRand(r, N*kvd, 1)
				v := attnRand(r, N*kvd, 1)
				k16, v16 := roundF16(k), roundF16(v)
				for _, typ := range []KVType{KVF32, KVF16} {
					c := NewKVCache(typ, 2, kvd, N)
					for pos := 0; pos < N; {
						T := min(tc.chunk, tc.prompt-pos)
						if pos >= tc.prompt {
							T = 1
						}
						for l := 0; l < 2; l++ {
							c.Store(l, pos, k[pos*kvd:(pos+T)*kvd], v[pos*kvd:(pos+T)*kvd])
						}
						got := make([]float32, T*qd)
						c.Attention(1, got, q[pos*qd:], T, pos, tc.NH, tc.NKV, tc.HD)
						if typ == KVF32 {
							want := make([]float32, T*qd)
							AttentionKV(want, q[pos*qd:], k, v, T, pos, tc.NH, tc.NKV, tc.HD)
							for i := range want {
								if got[i] != want[i] {
									t.Fatalf("f32 cache at pos %d: [%d] = %g, AttentionKV %g", pos, i, got[i], want[i])
								}
							}
						} else {
							want := attentionRef(q[pos*qd:], k16, v16, T, pos, tc.NH, tc.NKV, tc.HD)
							attnCheckClose(t, fmt.Sprintf("f16 pos %d", pos), got, want, 2e-6)
						}
						pos += T
					}
					if c.Bytes() > int64(N)*int64(c.BytesPerToken()) || c.Bytes() < int64(N)*int64(c.BytesPerToken())/4 {
						t.Errorf("%v cache holds %d bytes for %d tokens of %d bytes", typ, c.Bytes(), N, c.BytesPerToken())
					}
				}
			})
		})
	}
}

// TestF16Kernels: the F16C conversions equal the Go twins bit for bit:
// every half value widened, and float32 values (random, halfway cases,
// overflow, subnormal results) rounded.
func TestF16Kernels(t *testing.T) {
	eachKernelSet(t, func(t *testing.T) {
		src := make([]uint16, 65536)
		for i := range src {
			src[i] = uint16(i)
		}
		dst := make([]float32, len(src))
		f16ToF32(dst, src)
		for i, h := range src {
			w := HalfToFloat(h)
			if math.Float32bits(dst[i]) != math.Float32bits(w) && !(w != w && dst[i] != dst[i]) {
				t.Fatalf("f16ToF32(%#04x) = %g, want %g", h, dst[i], w)
			}
		}
		r := rand.New(rand.NewPCG(43, 44))
		fs := make([]float32, 0, 100003)
		for len(fs) < 100000 {
			e := r.IntN(40) - 28
			fs = append(fs, float32(math.Ldexp(r.Float64()*2-1, e)))
		}
		fs = append(fs, 65520, -65519, 1+1.0/2048, 5.960464477539063e-08/2)
		hs := make([]uint16, len(fs))
		f32ToF16(hs, fs)
		for i, f := range fs {
			if w := FloatToHalf(f); hs[i] != w {
				t.Fatalf("f32ToF16(%g) = %#04x, want %#04x", f, hs[i], w)
			}
		}
	})
}

func TestParseKVType(t *testing.T) {
	for _, s := range []string{"f32", "f16"} {
		typ, err := ParseKVType(s)
		if err != nil || typ.String() != s {
			t.Errorf("ParseKVType(%q) = %v, %v", s, typ, err)
		}
	}
	if _, err := ParseKVType("q4"); err == nil {
		t.Error("ParseKVType(q4): no error")
	}
}

// BenchmarkKVCacheDecode: one decode step of the 1.5B shape's attention
// at depth L from an f32 and an f16 cache.
func BenchmarkKVCacheDecode(b *testing.B) {
	const NH, NKV, HD = 12, 2, 128
	for _, L := range []int{2048, 4096} {
		r := rand.New(rand.NewPCG(45, 46))
		q := attnRand(r, NH*HD, 1)
		k := attnRand(r, L*NKV*HD, 1)
		v := attnRand(r, L*NKV*HD, 1)
		out := make([]float32, NH*HD)
		for _, typ := range []KVType{KVF32, KVF16} {
			c := NewKVCache(typ, 1, NKV*HD, L)
			c.Store(0, 0, k, v)
			b.Run(fmt.Sprintf("%v/ctx=%d", typ, L), func(b *testing.B) {
				for b.Loop() {
					c.Attention(0, out, q, 1, L-1, NH, NKV, HD)
				}
			})
		}
	}
}

// BenchmarkKVCachePrefill: one 128-token prefill chunk at the end of an
// L-token prompt from an f32 and an f16 cache.
func BenchmarkKVCachePrefill(b *testing.B) {
	const T, NH, NKV, HD = 128, 12, 2, 128
	for _, L := range []int{512, 4096} {
		r := rand.New(rand.NewPCG(47, 48))
		q := attnRand(r, T*NH*HD, 1)
		k := attnRand(r, L*NKV*HD, 1)
		v := attnRand(r, L*NKV*HD, 1)
		out := make([]float32, T*NH*HD)
		for _, typ := range []KVType{KVF32, KVF16} {
			c := NewKVCache(typ, 1, NKV*HD, L)
			c.Store(0, 0, k, v)
			b.Run(fmt.Sprintf("%v/ctx=%d", typ, L), func(b *testing.B) {
				for b.Loop() {
					c.Attention(0, out, q, T, L-T, NH, NKV, HD)
				}
			})
		}
	}
}
