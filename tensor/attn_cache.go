package tensor

import (
	"fmt"
	"math"
)

// KVType is the element type a KV cache stores keys and values in.
type KVType uint8

const (
	// KVF32 keeps keys and values as computed: attention is bit-identical
	// to AttentionKV on float32 slices.
	KVF32 KVType = iota
	// KVF16 rounds them to IEEE half precision (half the memory and half
	// the bytes decode streams per token); tiles are widened to float32
	// once per KV group as attention loads them.
	KVF16
	// KVQ8 stores blocks of 32 values as int8 with one float32 scale each
	// (scale = max |x| / 127, as GGUF's Q8_0 but with a float32 scale):
	// 1.125 bytes a value. Needs a head size that is a multiple of 32.
	KVQ8
)

// KVTypes names the cache types ParseKVType accepts, for help texts.
const KVTypes = "f32|f16|q8_0"

// q8Block is the q8_0 block length.
const q8Block = 32

func (t KVType) String() string {
	switch t {
	case KVF32:
		return "f32"
	case KVF16:
		return "f16"
	case KVQ8:
		return "q8_0"
	}
	return fmt.Sprintf("KVType(%d)", uint8(t))
}

// RowBytes is the size of n cached values (n a multiple of 32 for q8_0).
func (t KVType) RowBytes(n int) int {
	switch t {
	case KVF16:
		return 2 * n
	case KVQ8:
		return n + n/q8Block*4
	}
	return 4 * n
}

// ParseKVType reads a --kv-type value.
func ParseKVType(s string) (KVType, error) {
	switch s {
	case "f32", "F32", "float32":
		return KVF32, nil
	case "f16", "F16", "float16", "fp16":
		return KVF16, nil
	case "q8_0", "Q8_0", "q8":
		return KVQ8, nil
	}
	return 0, fmt.Errorf("unknown KV cache type %q (want %s)", s, KVTypes)
}

// KVCache is one sequence's keys and values for every layer: per layer a
// row of kvd = NKV·HD keys (after RoPE) and one of values per position,
// rows in position order. Rows are allocated on demand, growing by
// doubling up to maxSeq, so a State sized for a long context costs memory
// only for the tokens it has seen. One cache per sequence: a batched step
// runs Attention for each sequence against its own cache.
type KVCache struct {
	typ         KVType
	kvd, maxSeq int
	rows        int // rows allocated in every layer
	k32, v32    [][]float32
	k16, v16    [][]uint16
	k8, v8      [][]int8
	ks8, vs8    [][]float32 // q8_0 block scales
	wk, wv      []float32   // widened rows for head sizes the tiles do not take
	layers      int
}

// NewKVCache returns an empty cache of layers × up to maxSeq rows of kvd
// values each, keys and values. A q8_0 cache needs every head's values to
// be whole blocks: use KVQ8OK first.
func NewKVCache(t KVType, layers, kvd, maxSeq int) *KVCache {
	c := &KVCache{typ: t, kvd: kvd, maxSeq: maxSeq, layers: layers}
	switch t {
	case KVF16:
		c.k16, c.v16 = make([][]uint16, layers), make([][]uint16, layers)
	case KVQ8:
		c.k8, c.v8 = make([][]int8, layers), make([][]int8, layers)
		c.ks8, c.vs8 = make([][]float32, layers), make([][]float32, layers)
	default:
		c.k32, c.v32 = make([][]float32, layers), make([][]float32, layers)
	}
	return c
}

// Type is the cache's element type.
func (c *KVCache) Type() KVType { return c.typ }

// BytesPerToken is the memory one position takes over all layers, keys
// and values.
func (c *KVCache) BytesPerToken() int {
	return 2 * c.layers * c.typ.RowBytes(c.kvd)
}

// Bytes is the memory the cache holds now.
func (c *KVCache) Bytes() int64 { return int64(c.rows) * int64(c.BytesPerToken()) }

// Reserve allocates rows for the first n positions (at most maxSeq) now,
// so a caller that knows the sequence's length pays for the allocation
// once, up front, instead of copying the cache at each doubling.
func (c *KVCache) Reserve(n int) {
	n = min(n, c.maxSeq)
	if n <= c.rows {
		return
	}
	for l := range c.k32 {
		c.k32[l] = growF32(c.k32[l], n*c.kvd)
		c.v32[l] = growF32(c.v32[l], n*c.kvd)
	}
	for l := range c.k16 {
		c.k16[l] = growU16(c.k16[l], n*c.kvd)
		c.v16[l] = growU16(c.v16[l], n*c.kvd)
	}
	for l := range c.k8 {
		c.k8[l] = growKV(c.k8[l], n*c.kvd)
		c.v8[l] = growKV(c.v8[l], n*c.kvd)
		c.ks8[l] = growKV(c.ks8[l], n*c.kvd/q8Block)
		c.vs8[l] = growKV(c.vs8[l], n*c.kvd/q8Block)
	}
	c.rows = n
}

// reserve makes room for n rows in every layer (n ≤ maxSeq), doubling.
func (c *KVCache) reserve(n int) {
	if n <= c.rows {
		return
	}
	c.Reserve(max(n, 2*c.rows, 256))
}

func growF32(s []float32, n int) []float32 {
	t := make([]float32, n)
	copy(t, s)
	return t
}

func growU16(s []uint16, n int) []uint16 { return growKV(s, n) }

func growKV[E any](s []E, n int) []E {
	t := make([]E, n)
	copy(t, s)
	return t
}

// Store writes T = len(k)/kvd rows of keys and values of layer l at
// positions pos..pos+T-1, rounding them to the cache type.
func (c *KVCache) Store(l, pos int, k, v []float32) {
	T := len(k) / c.kvd
	if pos+T > c.maxSeq {
		panic(fmt.Sprintf("tensor: KV cache of %d positions cannot store rows %d..%d", c.maxSeq, pos, pos+T-1))
	}
	c.reserve(pos + T)
	lo, hi := pos*c.kvd, (pos+T)*c.kvd
	switch c.typ {
	case KVF16:
		f32ToF16(c.k16[l][lo:hi], k[:hi-lo])
		f32ToF16(c.v16[l][lo:hi], v[:hi-lo])
		return
	case KVQ8:
		quantQ8(c.k8[l][lo:hi], c.ks8[l][lo/q8Block:hi/q8Block], k[:hi-lo])
		quantQ8(c.v8[l][lo:hi], c.vs8[l][lo/q8Block:hi/q8Block], v[:hi-lo])
		return
	}
	copy(c.k32[l][lo:hi], k)
	copy(c.v32[l][lo:hi], v)
}

// Attention is AttentionKV for layer l over this cache: T new queries at
// positions pos..pos+T-1, whose keys and values Store has written.
func (c *KVCache) Attention(l int, out, q []float32, T, pos, NH, NKV, HD int) {
	if c.typ == KVF32 {
		AttentionKV(out, q, c.k32[l], c.v32[l], T, pos, NH, NKV, HD)
		return
	}
	_ = out[T*NH*HD-1]
	_ = q[T*NH*HD-1]
	var src kvSrc
	if c.typ == KVF16 {
		src = kvSrc{k16: c.k16[l][:(pos+T)*NKV*HD], v16: c.v16[l][:(pos+T)*NKV*HD]}
	} else {
		if HD%q8Block != 0 {
			panic(fmt.Sprintf("tensor: q8_0 KV cache needs a head size that is a multiple of %d, not %d", q8Block, HD))
		}
		n := (pos + T) * NKV * HD
		src = kvSrc{k8: c.k8[l][:n], v8: c.v8[l][:n], ks8: c.ks8[l][:n/q8Block], vs8: c.vs8[l][:n/q8Block]}
	}
	if T == 1 {
		attentionDecodeSrc(out, q, src, pos, NH, NKV, HD)
		return
	}
	if !tiledOK(NH, NKV, HD) {
		// Odd head sizes (test models): widen the rows into float32 and
		// take the two-pass path.
		n := (pos + T) * NKV * HD
		c.wk, c.wv = growKV(c.wk[:0], n), growKV(c.wv[:0], n)
		src.widenK(c.wk, 0, pos+T, NKV*HD, 0, NKV*HD)
		src.widenV(c.wv, 0, pos+T, NKV*HD, 0, NKV*HD)
		attnRows(out, q, c.wk, c.wv, T, pos, NH, NKV, HD)
		return
	}
	attentionTiledSrc(out, q, src, T, pos, NH, NKV, HD)
}

// f32ToF16 rounds src to half precision (nearest even) into dst.
func f32ToF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	i := 0
	if attnF16C() && len(src) >= 8 {
		i = len(src) &^ 7
		f32ToF16F16C(&dst[0], &src[0], i)
	}
	for ; i < len(src); i++ {
		dst[i] = FloatToHalf(src[i])
	}
}

// f16ToF32 widens src into dst.
func f16ToF32(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	i := 0
	if attnF16C() && len(src) >= 8 {
		i = len(src) &^ 7
		f16ToF32F16C(&dst[0], &src[0], i)
	}
	for ; i < len(src); i++ {
		dst[i] = HalfToFloat(src[i])
	}
}

// KVQ8OK reports whether a q8_0 cache can hold heads of HD values.
func KVQ8OK(HD int) bool { return HD%q8Block == 0 }

// quantQ8 rounds x (a multiple of 32 values) to q8_0 blocks: q = round(x/d)
// with d = max |x| / 127 per block, an all-zero block having d = 0.
func quantQ8(q []int8, d []float32, x []float32) {
	for b := range d {
		blk := x[b*q8Block : b*q8Block+q8Block]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 127
		d[b] = s
		inv := float32(0)
		if s != 0 {
			inv = 1 / s
		}
		qb := q[b*q8Block : b*q8Block+q8Block]
		for i, v := range blk {
			qb[i] = int8(math.RoundToEven(float64(v * inv)))
		}
	}
}

// q8ToF32 widens q8_0 values q (len a multiple of 32) with block scales d.
func q8ToF32(dst []float32, q []int8, d []float32) {
	dst = dst[:len(q)]
	if attnSIMD() && len(q) >= q8Block {
		q8ToF32AVX2(&dst[0], &q[0], &d[0], len(q))
		return
	}
	for b, s := range d[:len(q)/q8Block] {
		for i, v := range q[b*q8Block : b*q8Block+q8Block] {
			dst[b*q8Block+i] = float32(v) * s
		}
	}
}

// CopyFrom replaces this cache's first n rows of every layer with src's,
// which must have the same type and row size; rows past n are left as
// they are (a caller continues writing at n).
func (c *KVCache) CopyFrom(src *KVCache, n int) error {
	if src.typ != c.typ || src.kvd != c.kvd || src.layers != c.layers {
		return fmt.Errorf("KV caches differ: %s %d×%d rows against %s %d×%d", src.typ, src.layers, src.kvd, c.typ, c.layers, c.kvd)
	}
	if n > src.rows || n > c.maxSeq {
		return fmt.Errorf("KV cache: cannot copy %d rows (source has %d, room for %d)", n, src.rows, c.maxSeq)
	}
	if n <= 0 {
		return nil
	}
	c.reserve(n)
	e := n * c.kvd
	for l := range c.k32 {
		copy(c.k32[l][:e], src.k32[l][:e])
		copy(c.v32[l][:e], src.v32[l][:e])
	}
	for l := range c.k16 {
		copy(c.k16[l][:e], src.k16[l][:e])
		copy(c.v16[l][:e], src.v16[l][:e])
	}
	for l := range c.k8 {
		copy(c.k8[l][:e], src.k8[l][:e])
		copy(c.v8[l][:e], src.v8[l][:e])
		copy(c.ks8[l][:e/q8Block], src.ks8[l][:e/q8Block])
		copy(c.vs8[l][:e/q8Block], src.vs8[l][:e/q8Block])
	}
	return nil
}
