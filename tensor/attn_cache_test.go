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
		if testing.Short() && tc.prompt > 300 {
			// -short is CI's emulated arm64 run, where this case alone takes
			// minutes; the smaller cases cover the same chunking edges.
			continue
		}
		t.Run(name, func(t *testing.T) {
			eachKernelSet(t, func(t *testing.T) {
				N := tc.prompt + tc.gen
				qd, kvd := tc.NH*tc.HD, tc.NKV*tc.HD
				q := attnRand(r, N*qd, 1)
				k := attnRand(r, N*kvd, 1)
				v := attnRand(r, N*kvd, 1)
				k16, v16 := roundF16(k), roundF16(v)
				k8, v8 := roundQ8(k), roundQ8(v)
				for _, typ := range []KVType{KVF32, KVF16, KVQ8} {
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
							kr, vr := k16, v16
							if typ == KVQ8 {
								kr, vr = k8, v8
							}
							want := attentionRef(q[pos*qd:], kr, vr, T, pos, tc.NH, tc.NKV, tc.HD)
							attnCheckClose(t, fmt.Sprintf("%v pos %d", typ, pos), got, want, 2e-6)
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

// roundQ8 returns s as a q8_0 cache holds it, computed independently of
// quantQ8: per block of 32, d = max|x|/127 and x ≈ round(x/d)·d.
func roundQ8(s []float32) []float32 {
	r := make([]float32, len(s))
	for b := 0; b < len(s); b += 32 {
		var amax float64
		for _, x := range s[b : b+32] {
			amax = math.Max(amax, math.Abs(float64(x)))
		}
		d := float32(amax) / 127
		for i, x := range s[b : b+32] {
			if d != 0 {
				r[b+i] = float32(math.RoundToEven(float64(x*(1/d)))) * d
			}
		}
	}
	return r
}

// TestQ8Kernel: the AVX2 q8_0 widening equals the Go loop bit for bit,
// and quantizing then widening is within half a step of the input.
func TestQ8Kernel(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	x := attnRand(r, 32*40, 3)
	clear(x[64:96]) // an all-zero block
	q := make([]int8, len(x))
	d := make([]float32, len(x)/32)
	quantQ8(q, d, x)
	var want []float32
	eachKernelSet(t, func(t *testing.T) {
		got := make([]float32, len(x))
		q8ToF32(got, q, d)
		if want == nil {
			want = got
			for i := range x {
				if e := math.Abs(float64(got[i] - x[i])); e > float64(d[i/32])/2*1.0001 {
					t.Fatalf("q8_0 round trip at %d: %g → %g (step %g)", i, x[i], got[i], d[i/32])
				}
			}
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("q8ToF32 at %d = %g, other kernel set %g", i, got[i], want[i])
			}
		}
	})
}

func TestParseKVType(t *testing.T) {
	for _, s := range []string{"f32", "f16", "q8_0"} {
		typ, err := ParseKVType(s)
		if err != nil || typ.String() != s {
			t.Errorf("ParseKVType(%q) = %v, %v", s, typ, err)
		}
	}
	if _, err := ParseKVType("q4"); err == nil {
		t.Error("ParseKVType(q4): no error")
	}
}

// TestKVCacheReserve: a cache allocated up front holds exactly the rows
// asked for (capped at its maximum), never grows while they suffice, and
// attends bit for bit like one that grew by doubling.
func TestKVCacheReserve(t *testing.T) {
	const NH, NKV, HD, N = 4, 2, 64, 300
	r := rand.New(rand.NewPCG(61, 62))
	kvd := NKV * HD
	q := attnRand(r, NH*HD, 1)
	k := attnRand(r, N*kvd, 1)
	v := attnRand(r, N*kvd, 1)
	for _, typ := range []KVType{KVF32, KVF16, KVQ8} {
		grown, held := NewKVCache(typ, 1, kvd, N), NewKVCache(typ, 1, kvd, N)
		held.Reserve(N + 50) // past the maximum: capped
		want := int64(N) * int64(held.BytesPerToken())
		if held.Bytes() != want {
			t.Fatalf("%v: reserved %d bytes, want %d", typ, held.Bytes(), want)
		}
		for pos := 0; pos < N; pos++ {
			grown.Store(0, pos, k[pos*kvd:(pos+1)*kvd], v[pos*kvd:(pos+1)*kvd])
			held.Store(0, pos, k[pos*kvd:(pos+1)*kvd], v[pos*kvd:(pos+1)*kvd])
		}
		if held.Bytes() != want {
			t.Fatalf("%v: the reserved cache grew to %d bytes", typ, held.Bytes())
		}
		a, b := make([]float32, NH*HD), make([]float32, NH*HD)
		grown.Attention(0, a, q, 1, N-1, NH, NKV, HD)
		held.Attention(0, b, q, 1, N-1, NH, NKV, HD)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%v: [%d] = %g reserved, %g grown", typ, i, b[i], a[i])
			}
		}
	}
}

// BenchmarkKVCacheDecode: one decode step of the 1.5B shape's attention
// at depth L from each cache type, one layer (the cache stays in cache).
func BenchmarkKVCacheDecode(b *testing.B) { benchKVDecode(b, 1) }

// BenchmarkKVCacheDecodeModel: the same step through all 28 layers, so the
// cache (58 MiB of f16 at 2048) streams from memory as in the model; ns/op
// is attention's share of one token.
func BenchmarkKVCacheDecodeModel(b *testing.B) { benchKVDecode(b, 28) }

func benchKVDecode(b *testing.B, layers int) {
	const NH, NKV, HD = 12, 2, 128
	for _, L := range []int{2048, 4096} {
		r := rand.New(rand.NewPCG(45, 46))
		q := attnRand(r, NH*HD, 1)
		k := attnRand(r, L*NKV*HD, 1)
		v := attnRand(r, L*NKV*HD, 1)
		out := make([]float32, NH*HD)
		for _, typ := range []KVType{KVF32, KVF16, KVQ8} {
			c := NewKVCache(typ, layers, NKV*HD, L)
			for l := 0; l < layers; l++ {
				c.Store(l, 0, k, v)
			}
			b.Run(fmt.Sprintf("%v/ctx=%d", typ, L), func(b *testing.B) {
				for b.Loop() {
					for l := 0; l < layers; l++ {
						c.Attention(l, out, q, 1, L-1, NH, NKV, HD)
					}
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
		for _, typ := range []KVType{KVF32, KVF16, KVQ8} {
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

// TestAttentionOddHeads: head sizes the tiles do not take (12, 14, 20)
// still reach the right answer through AttentionKV and every cache type
// that can hold them, prefill and decode.
func TestAttentionOddHeads(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, tc := range []struct{ T, pos, NH, NKV, HD int }{
		{23, 0, 6, 2, 12}, {70, 23, 5, 1, 14}, {1, 92, 5, 1, 14}, {40, 400, 4, 2, 20},
	} {
		P := tc.pos + tc.T
		qd, kvd := tc.NH*tc.HD, tc.NKV*tc.HD
		q := attnRand(r, tc.T*qd, 1)
		k := attnRand(r, P*kvd, 1)
		v := attnRand(r, P*kvd, 1)
		t.Run(fmt.Sprintf("T=%d,pos=%d,NH=%d,NKV=%d,HD=%d", tc.T, tc.pos, tc.NH, tc.NKV, tc.HD), func(t *testing.T) {
			eachKernelSet(t, func(t *testing.T) {
				got := make([]float32, tc.T*qd)
				AttentionKV(got, q, k, v, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
				attnCheckClose(t, "AttentionKV", got, attentionRef(q, k, v, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD), 2e-6)
				c := NewKVCache(KVF16, 1, kvd, P)
				c.Store(0, 0, k, v)
				c.Attention(0, got, q, tc.T, tc.pos, tc.NH, tc.NKV, tc.HD)
				attnCheckClose(t, "f16 cache", got, attentionRef(q, roundF16(k), roundF16(v), tc.T, tc.pos, tc.NH, tc.NKV, tc.HD), 2e-6)
			})
		})
	}
}
