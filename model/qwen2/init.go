package qwen2

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"ragtune/model"
	"ragtune/safetensors"
	"ragtune/weights"
)

// Tokenizer is what Init needs from a tokenizer to write it next to the
// weights; *tokenizer.BPE satisfies it. (An interface rather than the
// concrete type keeps this package below package tokenizer.)
type Tokenizer interface {
	VocabSize() int
	BOS() int
	EOS() int
	// WriteJSON writes tokenizer.json.
	WriteJSON(path string) error
	// WriteConfig writes tokenizer_config.json (with the chat template).
	WriteConfig(dir string) error
}

// InitOptions tunes InitWith.
type InitOptions struct {
	// Tokenizer is written into the directory and decides vocab_size,
	// bos_token_id and eos_token_id; nil writes weights and configs only.
	Tokenizer Tokenizer
	// KeepVocab keeps cfg.VocabSize when the tokenizer fits in it (the
	// real R1 shapes, whose embedding has padding rows); otherwise the
	// vocabulary is the tokenizer's size rounded up to a multiple of 64.
	KeepVocab bool
	// Progress reports weight bytes written and the total.
	Progress func(done, total int64)
}

// Init writes a complete HF model directory with deterministic random
// weights for cfg (see InitWith).
func Init(dir string, cfg Config, seed uint64, tok Tokenizer) error {
	return InitWith(dir, cfg, seed, InitOptions{Tokenizer: tok})
}

// InitWith writes config.json, generation_config.json, model.safetensors
// and, with a tokenizer, tokenizer.json and tokenizer_config.json into dir.
// Weights are in cfg.TorchDtype (float32, float16 or bfloat16), drawn from
// a PRNG seeded per tensor and chunk, so the same seed gives the same bytes
// on any machine and thread count: matrices and embeddings from
// N(0, initializer_range), biases likewise (so bias code paths are
// exercised), norm weights 1 + N(0, 0.1) (not exactly 1, so a forward pass
// that skips a norm's weight differs from one that applies it). Tensors
// are generated while being written, so the 7B shape needs only megabytes
// of memory.
func InitWith(dir string, cfg Config, seed uint64, opts InitOptions) error {
	if tok := opts.Tokenizer; tok != nil {
		n := tok.VocabSize()
		if !opts.KeepVocab || cfg.VocabSize < n {
			cfg.VocabSize = (n + 63) / 64 * 64
		}
		cfg.BOSTokenID, cfg.EOSTokenID = tok.BOS(), tok.EOS()
	}
	if cfg.InitializerRange == 0 {
		cfg.InitializerRange = 0.02
	}
	if cfg.TransformersVer == "" {
		cfg.TransformersVer = "4.44.0"
	}
	dtype, err := weights.FromTorchDtype(cfg.TorchDtype)
	if err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	if err := cfg.CheckArchitecture(); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	stDType, _ := safetensors.FromWeightsDType(dtype)
	w := safetensors.NewWriter(filepath.Join(dir, "model.safetensors"))
	w.Progress = opts.Progress
	for _, s := range Tensors(&cfg) {
		s := s
		if err := w.AddFunc(s.Name, stDType, s.Shape, func(out io.Writer) error {
			return writeRandom(out, s, dtype, seed, cfg.InitializerRange)
		}, -1); err != nil {
			return fmt.Errorf("init model: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	if err := cfg.Save(dir); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	gen := model.GenerationConfig{BOSTokenID: cfg.BOSTokenID, EOSTokenID: cfg.EOSTokenID, DoSample: true, Temperature: 0.6, TopP: 0.95, TransformersVer: cfg.TransformersVer}
	if err := model.WriteJSON(filepath.Join(dir, "generation_config.json"), gen); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	if tok := opts.Tokenizer; tok != nil {
		if err := tok.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
			return fmt.Errorf("init model: %w", err)
		}
		if err := tok.WriteConfig(dir); err != nil {
			return fmt.Errorf("init model: %w", err)
		}
	}
	return nil
}

// initChunk is the unit of random generation: each chunk has its own PRNG
// stream, so chunks are generated in parallel and the result does not
// depend on the number of workers.
const initChunk = 1 << 16

// writeRandom streams one tensor's random values, generating up to
// GOMAXPROCS chunks concurrently and writing them in order.
func writeRandom(out io.Writer, s TensorSpec, dtype weights.DType, seed uint64, std float64) error {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	nameHash := fnv64(s.Name)
	workers := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, workers)
	vals := make([][]float32, workers)
	for i := range vals {
		vals[i] = make([]float32, initChunk)
	}
	chunks := (n + initChunk - 1) / initChunk
	for base := 0; base < chunks; base += workers {
		k := min(workers, chunks-base)
		var wg sync.WaitGroup
		errs := make([]error, k)
		for j := 0; j < k; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				c := base + j
				lo, hi := c*initChunk, min((c+1)*initChunk, n)
				v := vals[j][:hi-lo]
				fillRandom(v, s.Kind, newRNG(seed, nameHash, uint64(c)), std)
				bufs[j], errs[j] = weights.EncodeFloat32(dtype, v)
			}(j)
		}
		wg.Wait()
		for j := 0; j < k; j++ {
			if errs[j] != nil {
				return errs[j]
			}
			if _, err := out.Write(bufs[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

func fillRandom(v []float32, kind string, r *rng, std float64) {
	mean, scale := 0.0, std
	if kind == "norm" {
		mean, scale = 1, 0.1
	}
	for i := 0; i < len(v); i += 2 {
		a, b := r.normal2()
		v[i] = float32(mean + scale*a)
		if i+1 < len(v) {
			v[i+1] = float32(mean + scale*b)
		}
	}
}

// rng is xoshiro256** seeded through splitmix64: small, fast and fully
// specified, so the weights are reproducible from the seed alone.
type rng struct{ s [4]uint64 }

func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func newRNG(seed, stream, chunk uint64) *rng {
	x := seed ^ stream*0x9e3779b97f4a7c15 ^ chunk*0xd1b54a32d192ed03
	r := &rng{}
	for i := range r.s {
		r.s[i] = splitmix64(&x)
	}
	return r
}

func rotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

func (r *rng) next() uint64 {
	s := &r.s
	out := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return out
}

// uniform returns a value in (0, 1], never 0, so log is finite.
func (r *rng) uniform() float64 {
	return float64(r.next()>>11+1) / (1 << 53)
}

// normal2 returns two independent standard normal values (Box-Muller).
func (r *rng) normal2() (float64, float64) {
	u1, u2 := r.uniform(), r.uniform()
	rad := math.Sqrt(-2 * math.Log(u1))
	s, c := math.Sincos(2 * math.Pi * u2)
	return rad * c, rad * s
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
