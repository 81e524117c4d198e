package qwen2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"testing"

	"ragtune/tensor"
	"ragtune/weights"
)

// memSource is an in-memory weights.Source for tests.
type memSource map[string]*weights.Tensor

func (s memSource) Tensor(name string) (*weights.Tensor, error) {
	t, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, weights.ErrNotFound)
	}
	return t, nil
}

func (s memSource) Names() []string {
	var names []string
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s memSource) Close() error { return nil }

// tinyConfig is the tiny preset with a smaller vocabulary, so tests run in
// milliseconds.
func tinyConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = 97
	return &cfg
}

// randomSource fills every tensor cfg calls for with deterministic values
// (norm weights around 1, the rest scaled like initializer_range but larger,
// so logits are far from uniform and differences show up).
func randomSource(cfg *Config, seed uint64, dt weights.DType) memSource {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	src := memSource{}
	add := func(name string, norm bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		vals := make([]float32, n)
		for i := range vals {
			if norm {
				vals[i] = 1 + 0.2*(r.Float32()*2-1)
			} else {
				vals[i] = 0.15 * float32(r.NormFloat64())
			}
		}
		src[name] = makeTensor(name, dt, shape, vals)
	}
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QD, KVD := cfg.NumAttentionHeads*cfg.HeadDimension(), cfg.NumKeyValueHeads*cfg.HeadDimension()
	add("model.embed_tokens.weight", false, V, C)
	if !cfg.TieWordEmbeddings {
		add("lm_head.weight", false, V, C)
	}
	add("model.norm.weight", true, C)
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", true, C)
		add(p+"post_attention_layernorm.weight", true, C)
		add(p+"self_attn.q_proj.weight", false, QD, C)
		add(p+"self_attn.k_proj.weight", false, KVD, C)
		add(p+"self_attn.v_proj.weight", false, KVD, C)
		add(p+"self_attn.o_proj.weight", false, C, QD)
		if cfg.HasQKVBias() {
			add(p+"self_attn.q_proj.bias", false, QD)
			add(p+"self_attn.k_proj.bias", false, KVD)
			add(p+"self_attn.v_proj.bias", false, KVD)
			if cfg.ModelType != "qwen2" {
				add(p+"self_attn.o_proj.bias", false, C)
			}
		}
		add(p+"mlp.gate_proj.weight", false, F, C)
		add(p+"mlp.up_proj.weight", false, F, C)
		add(p+"mlp.down_proj.weight", false, C, F)
	}
	return src
}

func makeTensor(name string, dt weights.DType, shape []int, vals []float32) *weights.Tensor {
	var b []byte
	switch dt {
	case weights.F32:
		b = make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case weights.BF16, weights.F16:
		h := make([]uint16, len(vals))
		if dt == weights.BF16 {
			tensor.F32ToBF16(h, vals)
		} else {
			tensor.F32ToF16(h, vals)
		}
		b = make([]byte, 2*len(vals))
		for i, v := range h {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
	default:
		panic("makeTensor: unsupported dtype " + dt.String())
	}
	return &weights.Tensor{Name: name, DType: dt, Shape: append([]int(nil), shape...), Data: b}
}

func newTestModel(t *testing.T, cfg *Config, src memSource, opts ...Option) *Model {
	t.Helper()
	m, err := New(cfg, src, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func testTokens(n, vocab int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 1))
	toks := make([]int, n)
	for i := range toks {
		toks[i] = r.IntN(vocab)
	}
	return toks
}

// requireClose fails with the worst element when got and want differ by
// more than tol anywhere.
func requireClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > worst {
			worst, at = d, i
		}
	}
	if testing.Verbose() {
		t.Logf("%s: max abs diff %.3g", what, worst)
	}
	if worst > tol {
		t.Errorf("%s: max abs diff %.3g at [%d] (got %.7g, want %.7g), tolerance %g", what, worst, at, got[at], want[at], tol)
	}
}

// prefillAll returns every position's logits from one ForwardAll.
func prefillAll(t *testing.T, m *Model, toks []int) []float32 {
	t.Helper()
	s := m.NewState(len(toks) + 8)
	logits := make([]float32, len(toks)*m.VocabSize())
	if err := s.ForwardAll(toks, logits); err != nil {
		t.Fatal(err)
	}
	return logits
}

func TestDecodeMatchesPrefill(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*Config)
		opts  []Option
	}{
		{"qwen2", nil, nil},
		{"chunk=3", nil, []Option{WithPrefillChunk(3)}},
		{"tied", func(c *Config) { c.TieWordEmbeddings = true }, nil},
		{"llama-no-bias", func(c *Config) { c.ModelType = "llama"; c.Architectures = []string{"LlamaForCausalLM"} }, nil},
		{"llama-bias", func(c *Config) {
			c.ModelType = "llama"
			b := true
			c.AttentionBias = &b
		}, nil},
		{"mha-headdim", func(c *Config) { c.NumKeyValueHeads = 4; c.HeadDim = 8 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			if tc.tweak != nil {
				tc.tweak(cfg)
			}
			m := newTestModel(t, cfg, randomSource(cfg, 1, weights.F32), tc.opts...)
			V := m.VocabSize()
			toks := testTokens(11, V, 2)
			want := prefillAll(t, m, toks)

			s := m.NewState(32)
			for i, tok := range toks {
				got, err := s.Forward([]int{tok})
				if err != nil {
					t.Fatal(err)
				}
				requireClose(t, fmt.Sprintf("decode pos %d vs prefill", i), got, want[i*V:(i+1)*V], 1e-5)
			}
			if got, want := s.Pos(), len(toks); got != want {
				t.Errorf("Pos() = %d, want %d", got, want)
			}

			// Forward over the whole prompt returns the last row.
			s2 := m.NewState(32)
			got, err := s2.Forward(toks)
			if err != nil {
				t.Fatal(err)
			}
			requireClose(t, "Forward(all) last logits", got, want[(len(toks)-1)*V:], 1e-5)
		})
	}
}

// TestPrefillChunkingInvariant checks ForwardAll gives the same logits
// however the prompt is split into passes.
func TestPrefillChunkingInvariant(t *testing.T) {
	cfg := tinyConfig(t)
	src := randomSource(cfg, 3, weights.F32)
	toks := testTokens(13, cfg.VocabSize, 4)
	want := prefillAll(t, newTestModel(t, cfg, src), toks)
	for _, chunk := range []int{1, 2, 5, 13, 100} {
		got := prefillAll(t, newTestModel(t, cfg, src, WithPrefillChunk(chunk)), toks)
		requireClose(t, fmt.Sprintf("chunk %d", chunk), got, want, 1e-5)
	}
}

// TestTruncateReuse rewinds the cache to a shared prefix and continues with
// a different suffix; the result must equal a fresh run of the new text.
func TestTruncateReuse(t *testing.T) {
	cfg := tinyConfig(t)
	m := newTestModel(t, cfg, randomSource(cfg, 5, weights.F32))
	V := m.VocabSize()
	a := testTokens(9, V, 6)
	b := append(append([]int(nil), a[:4]...), testTokens(5, V, 7)...)
	s := m.NewState(16)
	if _, err := s.Forward(a); err != nil {
		t.Fatal(err)
	}
	s.Truncate(4)
	if got, want := s.Pos(), 4; got != want {
		t.Fatalf("Pos() after Truncate(4) = %d, want %d", got, want)
	}
	got, err := s.Forward(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	want := prefillAll(t, m, b)
	requireClose(t, "after truncate", got, want[(len(b)-1)*V:], 1e-5)

	s.Truncate(100) // beyond Pos: no change
	if got, want := s.Pos(), len(b); got != want {
		t.Errorf("Truncate(100) moved Pos to %d, want %d", got, want)
	}
	s.Truncate(-3)
	if got, want := s.Pos(), 0; got != want {
		t.Errorf("Truncate(-3): Pos = %d, want %d", got, want)
	}
}

// TestHalfWeights runs BF16 and F16 checkpoints both converted at load and
// kept in 16 bits, and with the default loader, tied and untied; both must match an F32
// model built from the already-rounded values.
func TestHalfWeights(t *testing.T) {
	for _, tc := range []struct {
		dt   weights.DType
		tied bool
	}{{weights.BF16, false}, {weights.F16, false}, {weights.BF16, true}} {
		t.Run(fmt.Sprintf("%s/tied=%v", tc.dt, tc.tied), func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.TieWordEmbeddings = tc.tied
			toks := testTokens(7, cfg.VocabSize, 8)
			dt := tc.dt
			src := randomSource(cfg, 9, dt)
			// The same values widened to F32 by an independent path.
			f32 := memSource{}
			for name, tn := range src {
				vals := make([]float32, tn.NumElements())
				for i := range vals {
					h := binary.LittleEndian.Uint16(tn.Data[2*i:])
					if dt == weights.BF16 {
						vals[i] = math.Float32frombits(uint32(h) << 16)
					} else {
						vals[i] = tensor.HalfToFloat(h)
					}
				}
				f32[name] = makeTensor(name, weights.F32, tn.Shape, vals)
			}
			want := prefillAll(t, newTestModel(t, cfg, f32), toks)
			requireClose(t, "converted at load", prefillAll(t, newTestModel(t, cfg, src, WithMatrixLoader(F32Matrix)), toks), want, 1e-5)
			requireClose(t, "default loader", prefillAll(t, newTestModel(t, cfg, src), toks), want, 2e-5)
			half := newTestModel(t, cfg, src, WithMatrixLoader(HalfMatrix))
			requireClose(t, "kept in 16 bits", prefillAll(t, half, toks), want, 2e-5)
			// Widen a few rows per pass, as the 151k-row head does.
			defer func(n int) { halfSlab = n }(halfSlab)
			halfSlab = 5 * cfg.HiddenSize
			requireClose(t, "kept in 16 bits, 5-row slabs", prefillAll(t, half, toks), want, 2e-5)
		})
	}
}

func TestForwardErrors(t *testing.T) {
	cfg := tinyConfig(t)
	m := newTestModel(t, cfg, randomSource(cfg, 10, weights.F32))
	for _, tc := range []struct {
		name    string
		prefill int
		tokens  []int
		want    string
		is      error
	}{
		{"empty", 0, nil, "no tokens", nil},
		{"negative id", 0, []int{1, -1}, "outside the vocabulary", nil},
		{"id too large", 0, []int{cfg.VocabSize}, "outside the vocabulary", nil},
		{"too long", 0, make([]int, 9), "context length 8 exceeded", ErrContextLength},
		{"full cache", 6, []int{1, 2, 3}, "context length 8 exceeded", ErrContextLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := m.NewState(8)
			if tc.prefill > 0 {
				if _, err := s.Forward(make([]int, tc.prefill)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.Forward(tc.tokens)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Forward error = %v, want one containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if got, want := s.Pos(), tc.prefill; got != want {
				t.Errorf("a failed Forward moved Pos to %d, want %d", got, want)
			}
			logits := make([]float32, len(tc.tokens)*m.VocabSize())
			if err := s.ForwardAll(tc.tokens, logits); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ForwardAll error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	s := m.NewState(8)
	if err := s.ForwardAll([]int{1, 2}, make([]float32, m.VocabSize())); err == nil || !strings.Contains(err.Error(), "logits buffer") {
		t.Errorf("ForwardAll with a short buffer: error = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*Config, memSource)
		want  string
	}{
		{"unknown architecture", func(c *Config, _ memSource) { c.ModelType = "gpt2" }, `unknown architecture "gpt2"`},
		{"bad config", func(c *Config, _ memSource) { c.NumKeyValueHeads = 3 }, "not a multiple"},
		{"activation", func(c *Config, _ memSource) { c.HiddenAct = "gelu" }, `hidden_act "gelu"`},
		{"missing tensor", func(_ *Config, s memSource) { delete(s, "model.layers.1.mlp.up_proj.weight") }, "model.layers.1.mlp.up_proj.weight"},
		{"missing bias", func(_ *Config, s memSource) { delete(s, "model.layers.0.self_attn.k_proj.bias") }, "k_proj.bias"},
		{"shape mismatch", func(c *Config, _ memSource) { c.IntermediateSize = 100 }, "config.json implies [100 64]"},
		{"truncated data", func(_ *Config, s memSource) {
			tn := s["model.layers.0.self_attn.q_proj.weight"]
			tn.Data = tn.Data[:len(tn.Data)-4]
		}, "truncated or corrupt"},
		{"quantized without loader", func(_ *Config, s memSource) {
			s["model.layers.0.mlp.down_proj.weight"].DType = weights.Q8_0
		}, "WithMatrixLoader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			src := randomSource(cfg, 11, weights.F32)
			tc.tweak(cfg, src)
			_, err := New(cfg, src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDecodeAllocations checks the per-token path allocates no buffers:
// what remains is the parallel kernels' fixed per-call overhead (closures,
// a few words each), below one logits vector and the same at any
// position.
func TestDecodeAllocations(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.VocabSize = 4096 // logits of 16 KiB: a per-token copy would stand out
	m := newTestModel(t, cfg, randomSource(cfg, 12, weights.F32))
	s := m.NewState(600)
	tok := []int{3}
	bytesPerStep := func(steps int) float64 {
		t.Helper()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range steps {
			if _, err := s.Forward(tok); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(steps)
	}
	bytesPerStep(5) // warm-up
	early := bytesPerStep(50)
	s.Truncate(500)
	bytesPerStep(40)
	late := bytesPerStep(50)
	t.Logf("bytes allocated per decode step: %.0f at position ~30, %.0f at ~570", early, late)
	// ~0–100 bytes: every op hands the pool a pooled or State-held task,
	// so what remains is a sync.Pool refill after a GC. A closure per
	// kernel call (~1 KiB per step before), a logits-sized (16 KiB) or any
	// activation buffer would exceed the limit.
	limit := 512.0
	if early > limit || late > limit {
		t.Errorf("decode allocates %.0f/%.0f bytes per step, over %.0f: a buffer is allocated per token", early, late, limit)
	}
}
