package qwen2

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"ragtune/internal/cputime"
	"ragtune/weights"
)

// BenchmarkMatrix16 compares a BF16 or F16 weight widened to float32 at
// load (F32Matrix) with one kept in 16 bits and widened inside MatMul
// (HalfMatrix), at the 1.5B model's MLP shape, for decode (T=1) and a
// prefill chunk (T=64).
func BenchmarkMatrix16(b *testing.B) {
	const R, C = 8960, 1536
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, R*C)
	for i := range vals {
		vals[i] = float32(r.NormFloat64()) * 0.02
	}
	for _, dt := range []weights.DType{weights.BF16, weights.F16} {
		w := makeTensor("w", dt, []int{R, C}, vals)
		for _, load := range []struct {
			name string
			fn   MatrixLoader
		}{{"widen-at-load", F32Matrix}, {"keep-16bit", HalfMatrix}} {
			mat, err := load.fn(w)
			if err != nil {
				b.Fatal(err)
			}
			for _, T := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%s/T=%d", dt, load.name, T), func(b *testing.B) {
					inp := make([]float32, T*C)
					for i := range inp {
						inp[i] = r.Float32()
					}
					out := make([]float32, T*R)
					for b.Loop() {
						mat.MatMul(out, inp, T)
					}
					b.ReportMetric(float64(2*R*C*T)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkModel measures prefill (128 tokens in one Forward) and decode
// (32 tokens one at a time) on the model at $RAGTUNE_BENCH_MODEL, with
// 16-bit weights kept as stored and converted to float32 at load:
//
//	ragtune model init --preset r1-distill-qwen-1.5b --out /tmp/r15
//	RAGTUNE_BENCH_MODEL=/tmp/r15 go test ./model/qwen2 -run '^$' -bench Model -benchtime 1x
func BenchmarkModel(b *testing.B) {
	path := os.Getenv("RAGTUNE_BENCH_MODEL")
	if path == "" {
		b.Skip("set RAGTUNE_BENCH_MODEL to a model directory or GGUF file")
	}
	const prompt, gen = 128, 32
	for _, load := range []struct {
		name string
		fn   MatrixLoader
	}{{"keep-16bit", HalfMatrix}, {"convert-f32", F32Matrix}} {
		b.Run(load.name, func(b *testing.B) {
			t0 := time.Now()
			m, err := Load(path, WithMatrixLoader(load.fn))
			if err != nil {
				b.Fatal(err)
			}
			loadTime := time.Since(t0)
			defer func() {
				m.Close()
				runtime.GC()
				debug.FreeOSMemory()
			}()
			toks := testTokens(prompt, m.VocabSize(), 1)
			s := m.NewState(prompt + gen)
			var prefill, decode, prefillCPU, decodeCPU time.Duration
			for b.Loop() {
				s.Truncate(0)
				t0, c0 := time.Now(), cputime.Process()
				logits, err := s.Forward(toks)
				if err != nil {
					b.Fatal(err)
				}
				prefill += time.Since(t0)
				prefillCPU += cputime.Process() - c0
				t0, c0 = time.Now(), cputime.Process()
				for range gen {
					if logits, err = s.Forward([]int{argmax32(logits)}); err != nil {
						b.Fatal(err)
					}
				}
				decode += time.Since(t0)
				decodeCPU += cputime.Process() - c0
			}
			n := float64(b.N)
			b.ReportMetric(prompt*n/prefill.Seconds(), "prefill-tok/s")
			b.ReportMetric(gen*n/decode.Seconds(), "decode-tok/s")
			// Tokens per CPU-second (all threads): steadier than wall time
			// on a shared machine.
			b.ReportMetric(prompt*n/prefillCPU.Seconds(), "prefill-tok/cpu-s")
			b.ReportMetric(gen*n/decodeCPU.Seconds(), "decode-tok/cpu-s")
			b.ReportMetric(loadTime.Seconds(), "load-s")
		})
	}
}

func argmax32(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// BenchmarkLayers1536 runs prefill (T=128) and decode on two layers of
// the 1.5B shape with a small vocabulary, held in memory: a quick check
// of everything around the matmuls without a 3 GB model on disk.
func BenchmarkLayers1536(b *testing.B) {
	cfg, err := Preset("r1-distill-qwen-1.5b")
	if err != nil {
		b.Fatal(err)
	}
	cfg.NumHiddenLayers, cfg.VocabSize = 2, 4096
	const prompt = 256
	toks := testTokens(prompt, cfg.VocabSize, 2)
	for _, dt := range []weights.DType{weights.F32, weights.BF16} {
		src := randomSource(&cfg, 1, dt)
		for _, chunk := range []int{64, 128, 256} {
			m, err := New(&cfg, src, WithPrefillChunk(chunk))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/prefill%d/chunk=%d", dt, prompt, chunk), func(b *testing.B) {
				s := m.NewState(prompt)
				for b.Loop() {
					s.Truncate(0)
					if _, err := s.Forward(toks); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(prompt*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
			if chunk != 128 {
				continue
			}
			b.Run(fmt.Sprintf("%s/decode@512", dt), func(b *testing.B) {
				s := m.NewState(1024)
				for s.Pos() < 512 {
					if _, err := s.Forward(toks); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					s.Truncate(512)
					if _, err := s.Forward(toks[:1]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
