//go:build amd64 && !purego

package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"

	"ragtune/tensor"
)

// TestQ6KDots8AVX2MatchGo: every lane of the eight-token Q6_K kernels (AVX2,
// and AVX-512 where the CPU has it) is
// bit-identical to the pure-Go dot of its token, on quantized rows and on
// raw random blocks (every level 0..63 and scale -128..127), with one
// token's block saturated and another's all zero, for rows of 1 to 7
// blocks stored alone or interleaved with three other rows. MatMul's use
// of it (T = 8, 11) is checked against the Go dots in
// TestKDots4AVX2MatchGo.
func TestQ6KDots8AVX2MatchGo(t *testing.T) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasF16C {
		t.Skip("no AVX2+F16C")
	}
	kernels := []struct {
		name string
		f    func(w []byte, step int, g0, g1 *kActGroup, nb int, out *[8]float32)
	}{{"AVX2", dotQ6_K8AVX2}}
	if hasQ6KDots8AVX512 {
		kernels = append(kernels, struct {
			name string
			f    func(w []byte, step int, g0, g1 *kActGroup, nb int, out *[8]float32)
		}{"AVX-512", dotQ6_K8AVX512})
	}
	r := rand.New(rand.NewPCG(61, 62))
	for _, nb := range []int{1, 2, 6, 7} {
		n := nb * QK_K
		qs := make([]int8, 8*n)
		acts := make([]q8KActs, 8)
		for k := range acts {
			x := randVec(r, n, float32(k+1))
			switch k {
			case 1:
				x[5], x[6] = 1e3, -1e3
			case 6:
				clear(x[:QK_K]) // a block with d = 0
			case 7:
				for i := range x[:QK_K] {
					x[i] = -1 // every value at -127
				}
			}
			acts[k].qs = qs[k*n : (k+1)*n : (k+1)*n]
			acts[k].quantize(x, nb)
		}
		var g0, g1 kActGroup
		g0.fill(qs[:4*n], acts[:4], nb)
		g1.fill(qs[4*n:], acts[4:], nb)

		quantized := make([]byte, nb*Q6_KBlockBytes)
		w := randVec(r, n, 0.05)
		for i := 0; i < QK_K; i++ {
			w[i] = float32(i%9) - 4 // levels at both ends
		}
		QuantizeQ6_K(quantized, w)
		raw := make([]byte, nb*Q6_KBlockBytes)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		for b := 0; b < nb; b++ {
			h := tensor.FloatToHalf(float32(r.NormFloat64()) * 0.01)
			raw[b*Q6_KBlockBytes+208], raw[b*Q6_KBlockBytes+209] = byte(h), byte(h>>8)
		}
		for name, data := range map[string][]byte{"quantized": quantized, "raw": raw} {
			// The row alone (blocks one after another), and as the second
			// row of a four-row interleaved group (blocks 4·210 bytes
			// apart, the other rows' bytes between them).
			spread := make([]byte, 4*len(data))
			for i := range spread {
				spread[i] = byte(r.Uint32())
			}
			for b := 0; b < nb; b++ {
				copy(spread[(4*b+1)*Q6_KBlockBytes:], data[b*Q6_KBlockBytes:(b+1)*Q6_KBlockBytes])
			}
			for _, layout := range []struct {
				w    []byte
				step int
			}{{data, Q6_KBlockBytes}, {spread[Q6_KBlockBytes:], 4 * Q6_KBlockBytes}} {
				for _, kern := range kernels {
					var got [8]float32
					kern.f(layout.w, layout.step, &g0, &g1, nb, &got)
					for k := range 8 {
						if want := dotQ6_K(data, &acts[k], nb); math.Float32bits(got[k]) != math.Float32bits(want) {
							t.Errorf("%s nb=%d step %d token %d: %s %g, Go %g", name, nb, layout.step, k, kern.name, got[k], want)
						}
					}
				}
			}
		}
	}
	for _, kern := range kernels {
		var got [8]float32
		got[3] = 1
		kern.f(nil, Q6_KBlockBytes, &kActGroup{}, &kActGroup{}, 0, &got)
		if got != [8]float32{} {
			t.Errorf("%s, no blocks: %v, want zeros", kern.name, got)
		}
	}
}
