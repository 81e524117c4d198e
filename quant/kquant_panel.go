package quant

import "ragtune/weights"

// kDots8 returns, for K-quant type d, dot for eight tokens at once (one
// weight row, its blocks step bytes apart, against two four-token
// kActGroups, each result bit-identical to dot's for its token), or nil
// where this CPU has none.
// Batched decode runs the output head (Q6_K in llama-quantize's Q4_0,
// Q4_K_M and Q8_0 mixes: 151936×1536, ~190 MB for the 1.5B model) over the
// whole step's panel; the four-token kernel unpacked every block twice for
// eight sequences.
func kDots8(d weights.DType) func(w []byte, step int, g0, g1 *kActGroup, nb int, out *[8]float32) {
	if d == weights.Q6_K {
		return q6KDots8
	}
	return nil
}

// q6KDots8 is set by the architecture files where a kernel exists.
var q6KDots8 func(w []byte, step int, g0, g1 *kActGroup, nb int, out *[8]float32)
