package llm

import (
	"math/bits"
	"math/rand/v2"
)

// rng is xoshiro256** seeded through splitmix64. The sampler owns one per
// request so a seed reproduces a generation exactly, whatever else runs in
// the process; the algorithm is fixed here, so a seed also reproduces across
// Go versions (math/rand makes no such promise for every source).
type rng struct{ s [4]uint64 }

func newRNG(seed uint64) rng {
	var r rng
	r.seed(seed)
	return r
}

func (r *rng) seed(seed uint64) {
	for i := range r.s {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
}

func (r *rng) next() uint64 {
	s := &r.s
	out := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return out
}

// float64 returns a uniform value in [0, 1) with 53 random bits.
func (r *rng) float64() float64 {
	return float64(r.next()>>11) * (1.0 / (1 << 53))
}

// randomSeed picks a seed for requests that ask for none (Seed < 0).
func randomSeed() uint64 { return rand.Uint64() }
