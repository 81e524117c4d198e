package tensor

import "fmt"

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
)

// KVTypes names the cache types ParseKVType accepts, for help texts.
const KVTypes = "f32|f16"

func (t KVType) String() string {
	switch t {
	case KVF32:
		return "f32"
	case KVF16:
		return "f16"
	}
	return fmt.Sprintf("KVType(%d)", uint8(t))
}

// Bytes is the size of one cached value.
func (t KVType) Bytes() int {
	if t == KVF16 {
		return 2
	}
	return 4
}

// ParseKVType reads a --kv-type value.
func ParseKVType(s string) (KVType, error) {
	switch s {
	case "f32", "F32", "float32":
		return KVF32, nil
	case "f16", "F16", "float16", "fp16":
		return KVF16, nil
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
}

// NewKVCache returns an empty cache of layers × up to maxSeq rows of kvd
// values each, keys and values.
func NewKVCache(t KVType, layers, kvd, maxSeq int) *KVCache {
	c := &KVCache{typ: t, kvd: kvd, maxSeq: maxSeq}
	if t == KVF16 {
		c.k16, c.v16 = make([][]uint16, layers), make([][]uint16, layers)
	} else {
		c.k32, c.v32 = make([][]float32, layers), make([][]float32, layers)
	}
	return c
}

// Type is the cache's element type.
func (c *KVCache) Type() KVType { return c.typ }

// BytesPerToken is the memory one position takes over all layers, keys
// and values.
func (c *KVCache) BytesPerToken() int {
	return 2 * max(len(c.k32), len(c.k16)) * c.kvd * c.typ.Bytes()
}

// Bytes is the memory the cache holds now.
func (c *KVCache) Bytes() int64 { return int64(c.rows) * int64(c.BytesPerToken()) }

// reserve makes room for n rows in every layer (n ≤ maxSeq).
func (c *KVCache) reserve(n int) {
	if n <= c.rows {
		return
	}
	rows := min(max(n, 2*c.rows, 256), c.maxSeq)
	for l := range c.k32 {
		c.k32[l] = growF32(c.k32[l], rows*c.kvd)
		c.v32[l] = growF32(c.v32[l], rows*c.kvd)
	}
	for l := range c.k16 {
		c.k16[l] = growU16(c.k16[l], rows*c.kvd)
		c.v16[l] = growU16(c.v16[l], rows*c.kvd)
	}
	c.rows = rows
}

func growF32(s []float32, n int) []float32 {
	t := make([]float32, n)
	copy(t, s)
	return t
}

func growU16(s []uint16, n int) []uint16 {
	t := make([]uint16, n)
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
	if c.typ == KVF16 {
		f32ToF16(c.k16[l][lo:hi], k[:hi-lo])
		f32ToF16(c.v16[l][lo:hi], v[:hi-lo])
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
	k, v := c.k16[l], c.v16[l]
	_ = out[T*NH*HD-1]
	_ = q[T*NH*HD-1]
	_ = k[(pos+T)*NKV*HD-1]
	_ = v[(pos+T)*NKV*HD-1]
	if T == 1 {
		attentionDecodeSrc(out, q, kvSrc{k16: k, v16: v}, pos, NH, NKV, HD)
		return
	}
	attentionTiledSrc(out, q, kvSrc{k16: k, v16: v}, T, pos, NH, NKV, HD)
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
