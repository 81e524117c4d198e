package qwen2

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/quant"
	"ragtune/weights"
)

// r1QwenConfig is DeepSeek-R1-0528-Qwen3-8B's published config.json.
const r1QwenConfig = `{
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 12288,
  "max_position_embeddings": 131072, "max_window_layers": 36, "model_type": "qwen3",
  "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
  "rope_scaling": {"attn_factor": 0.8782488562869419, "factor": 4.0, "original_max_position_embeddings": 32768, "rope_type": "yarn"},
  "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.51.3", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936
}`

// The published R1-0528-Qwen3 config loads, is what the preset writes,
// and keeps DeepSeek's attn_factor through a save without applying it.
func TestYaRNPublishedConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(r1QwenConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(dir)
	if err != nil {
		t.Fatalf("published R1-0528-Qwen3-8B config: %v", err)
	}
	p, err := Preset("r1-0528-qwen3-8b")
	if err != nil {
		t.Fatal(err)
	}
	if *c.RopeScaling != *p.RopeScaling || c.MaxPositionEmbeddings != p.MaxPositionEmbeddings {
		t.Errorf("preset rope_scaling %+v (context %d), published %+v (context %d)", *p.RopeScaling, p.MaxPositionEmbeddings, *c.RopeScaling, c.MaxPositionEmbeddings)
	}
	// HF transformers' default YaRN scale, not vLLM's attn_factor·scale = 1.
	if got, want := c.RopeAttentionFactor(), 1+0.1*math.Log(4); got != want {
		t.Errorf("attention factor %v, want HF's 1+0.1·ln 4 = %v", got, want)
	}
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		RopeScaling map[string]any `json:"rope_scaling"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768.0, "attn_factor": 0.8782488562869419}
	if len(back.RopeScaling) != len(want) {
		t.Errorf("saved rope_scaling %v, want %v", back.RopeScaling, want)
	}
	for k, v := range want {
		if back.RopeScaling[k] != v {
			t.Errorf("saved rope_scaling[%q] = %v, want %v", k, back.RopeScaling[k], v)
		}
	}
}

// At R1-0528-Qwen3-8B's shape (head 128, θ 10⁶, 32768 → 131072) the
// frequencies that turn more than 32 times over 32768 positions are kept,
// those turning less than once are divided by 4, and the ones between
// (indices 23 to 40, as llama.cpp's ggml_rope_yarn_corr_dims finds them:
// floor(23.6), ceil(39.6)) move linearly from one to the other.
func TestYaRNInvFreqBands(t *testing.T) {
	c, err := Preset("r1-0528-qwen3-8b")
	if err != nil {
		t.Fatal(err)
	}
	inv := c.RopeInvFreq()
	if len(inv) != 64 {
		t.Fatalf("%d frequencies, want 64", len(inv))
	}
	const low, high = 23, 40
	for i, got := range inv {
		plain := math.Pow(1e6, -float64(2*i)/128)
		mix := min(max((float64(i)-low)/(high-low), 0), 1)
		want := plain/4*mix + plain*(1-mix)
		if math.Abs(got-want) > 1e-15*plain {
			t.Errorf("frequency %d = %g, want %g (interpolated share %.3f)", i, got, want, mix)
		}
		// Each turns fewer times over the extended context than the
		// plain one, so positions beyond 32768 stay in range.
		if i > low && !(got < plain) || i <= low && got != plain {
			t.Errorf("frequency %d = %g against plain %g", i, got, plain)
		}
	}

	// The cos/sin tables carry the attention factor: a position's
	// (cos, sin) pair has that length, not 1.
	cos, sin := make([]float32, 3*64), make([]float32, 3*64)
	c.RoPETables(cos, sin, 1000, 3)
	for i := range cos {
		if r := math.Hypot(float64(cos[i]), float64(sin[i])); math.Abs(r-c.RopeAttentionFactor()) > 1e-6 {
			t.Fatalf("table entry %d has length %g, want the attention factor %g", i, r, c.RopeAttentionFactor())
		}
	}
}

func TestYaRNAttentionFactor(t *testing.T) {
	yarn := func(r RopeScaling) *Config {
		r.RopeType = "yarn"
		return &Config{RopeScaling: &r}
	}
	for _, tc := range []struct {
		name string
		c    *Config
		want float64
	}{
		{"plain RoPE", &Config{}, 1},
		{"llama3", &Config{RopeScaling: &RopeScaling{RopeType: "llama3", Factor: 8}}, 1},
		{"default", yarn(RopeScaling{Factor: 4}), 1 + 0.1*math.Log(4)},
		{"DeepSeek's attn_factor ignored", yarn(RopeScaling{Factor: 4, AttnFactor: 0.5}), 1 + 0.1*math.Log(4)},
		{"attention_factor", yarn(RopeScaling{Factor: 4, AttentionFactor: 0.9}), 0.9},
		{"mscale ratio", yarn(RopeScaling{Factor: 40, Mscale: 1, MscaleAllDim: 0.707}), (1 + 0.1*math.Log(40)) / (1 + 0.0707*math.Log(40))},
		{"mscale alone", yarn(RopeScaling{Factor: 40, Mscale: 1}), 1 + 0.1*math.Log(40)},
		{"factor below 1", yarn(RopeScaling{Factor: 0.5}), 1},
	} {
		if got := tc.c.RopeAttentionFactor(); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: attention factor %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A narrow correction range: one index (low == high) becomes a step, and
// truncate false keeps the fractional ends (HF's "truncate").
func TestYaRNRampEnds(t *testing.T) {
	c := &Config{HiddenSize: 64, NumAttentionHeads: 4, RopeTheta: 10000, MaxPositionEmbeddings: 64,
		RopeScaling: &RopeScaling{RopeType: "yarn", Factor: 2, BetaFast: 4, BetaSlow: 3.5, OriginalMaxPositionEmbeddings: 64}}
	// Index where a frequency turns b times over 64 positions.
	at := func(b float64) float64 { return 16 * math.Log(64/(b*2*math.Pi)) / (2 * math.Log(10000)) }
	lo, hi := math.Floor(at(4)), math.Ceil(at(3.5))
	ramp := c.yarnRamp()
	for i, got := range ramp {
		want := 0.0
		if float64(i) > lo {
			want = min((float64(i)-lo)/(hi-lo), 1)
		}
		if got != want {
			t.Errorf("truncated ramp[%d] = %v, want %v (range %v..%v)", i, got, want, lo, hi)
		}
	}
	f := false
	c.RopeScaling.Truncate = &f
	lo, hi = at(4), at(3.5)
	for i, got := range c.yarnRamp() {
		want := min(max((float64(i)-lo)/(hi-lo), 0), 1)
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("untruncated ramp[%d] = %v, want %v (range %v..%v)", i, got, want, lo, hi)
		}
	}
	// Equal betas: one index, where the ramp is a step.
	c.RopeScaling.BetaFast, c.RopeScaling.BetaSlow = 3, 3
	edge := at(3)
	for i, got := range c.yarnRamp() {
		if want := float64(min(max(float64(i)-edge, 0)*1000, 1)); got != want {
			t.Errorf("one-index ramp[%d] = %v, want %v (step at %v)", i, got, want, edge)
		}
	}
}

// HF → GGUF → HF keeps the YaRN config exactly and runs identically, and
// the file carries llama.cpp's keys (whose attention scale is
// attn_factor·(1+0.1·ln factor)) so llama.cpp runs what HF runs.
func TestYaRNGGUF(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*RopeScaling)
		attnKey float64 // llama.cpp's rope.scaling.attn_factor; 0: absent
	}{
		{"R1-0528", func(*RopeScaling) {}, 0},
		{"attention_factor", func(r *RopeScaling) { r.AttentionFactor, r.BetaFast, r.BetaSlow = 1.25, 24, 2 }, 1.25 / (1 + 0.1*math.Log(4))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Preset("tiny-qwen3-yarn")
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(cfg.RopeScaling)
			cfg.VocabSize, cfg.InitializerRange = 320, 0.15
			dir := t.TempDir()
			hf := filepath.Join(dir, "hf")
			if err := InitWith(hf, cfg, 4, InitOptions{KeepVocab: true}); err != nil {
				t.Fatal(err)
			}
			ggufPath := filepath.Join(dir, "m.gguf")
			writeGGUF(t, hf, ggufPath, nil)

			f, err := gguf.Open(ggufPath)
			if err != nil {
				t.Fatal(err)
			}
			kind, _ := f.String("qwen3.rope.scaling.type")
			factor, _ := f.Float("qwen3.rope.scaling.factor")
			orig, _ := f.Uint("qwen3.rope.scaling.original_context_length")
			attn, hasAttn := f.Float("qwen3.rope.scaling.attn_factor")
			fast, _ := f.Float("qwen3.rope.scaling.yarn_beta_fast")
			if kind != "yarn" || factor != 4 || orig != 32768 || float32(fast) != float32(cfg.RopeScaling.BetaFast) {
				t.Errorf("llama.cpp keys: type %q factor %v original context %d beta_fast %v", kind, factor, orig, fast)
			}
			if hasAttn != (tc.attnKey != 0) || float32(attn) != float32(tc.attnKey) {
				t.Errorf("rope.scaling.attn_factor = %v (present %v), want %v", attn, hasAttn, tc.attnKey)
			}
			back, err := ConfigFromGGUF(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if *back.RopeScaling != *cfg.RopeScaling || back.MaxPositionEmbeddings != cfg.MaxPositionEmbeddings {
				t.Errorf("GGUF round trip: rope_scaling %+v (context %d), want %+v (context %d)", *back.RopeScaling, back.MaxPositionEmbeddings, *cfg.RopeScaling, cfg.MaxPositionEmbeddings)
			}

			toks := testTokens(12, cfg.VocabSize, 5)
			var logits [2][]float32
			for i, path := range []string{hf, ggufPath} {
				m, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				logits[i] = prefillAll(t, m, toks)
				m.Close()
			}
			requireClose(t, "GGUF vs HF logits", logits[1], logits[0], 0)
		})
	}
}

// A GGUF converted by llama.cpp has only its own YaRN keys: they are read
// as the HF rope_scaling that runs as llama.cpp runs the file.
// rope.scaling.attn_factor multiplies the default scale (0.878… gives 1);
// yarn_attn_factor, which newer converters fill from DeepSeek's
// attn_factor and llama.cpp's runtime overrides, changes nothing.
func TestYaRNFromLlamaCppKeys(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want float64
	}{
		{"qwen3.rope.scaling.attn_factor", 1},
		{"qwen3.rope.scaling.yarn_attn_factor", 1 + 0.1*math.Log(4)},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := yarnGGUFConfig(t, tc.key)
			r := c.RopeScaling
			if r.Kind() != "yarn" || r.Factor != 4 || r.OriginalMaxPositionEmbeddings != 32768 || r.BetaSlow != 2 || r.BetaFast != 0 {
				t.Errorf("rope_scaling %+v", *r)
			}
			if got := c.RopeAttentionFactor(); math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("attention factor %v, want %v", got, tc.want)
			}
		})
	}
}

// yarnGGUFConfig reads the config of a GGUF with llama.cpp's YaRN keys
// (factor 4 over 32768, beta_slow 2) and attnKey = DeepSeek's 0.878….
func yarnGGUFConfig(t *testing.T, attnKey string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := gguf.NewWriter(path)
	w.AddMetadata("general.architecture", "qwen3")
	for k, v := range map[string]uint32{"block_count": 1, "context_length": 131072, "embedding_length": 4, "feed_forward_length": 4, "attention.head_count": 2, "attention.head_count_kv": 1, "rope.scaling.original_context_length": 32768} {
		w.AddMetadata("qwen3."+k, v)
	}
	w.AddMetadata("qwen3.rope.scaling.type", "yarn")
	w.AddMetadata("qwen3.rope.scaling.factor", float32(4))
	w.AddMetadata(attnKey, float32(0.8782488562869419))
	w.AddMetadata("qwen3.rope.scaling.yarn_beta_slow", float32(2))
	size, _ := gguf.TensorBytes(weights.F32, []uint64{4, 3})
	if err := w.AddTensor("token_embd.weight", weights.F32, []uint64{4, 3}, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ConfigFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A rope_scaling ragtune does not run is refused at load with the remedy.
func TestRopeScalingRefused(t *testing.T) {
	for _, cfg := range []string{`{"rope_type": "linear", "factor": 2}`, `{"type": "dynamic", "factor": 2}`, `{"rope_type": "yarn"}`} {
		var r RopeScaling
		if err := json.Unmarshal([]byte(cfg), &r); err != nil {
			t.Fatal(err)
		}
		err := r.validate()
		if err == nil || !strings.Contains(err.Error(), r.Kind()) {
			t.Errorf("rope_scaling %s: error %v", cfg, err)
		}
	}
}

// `ragtune quantize` (Quantize) and `model convert` back to HF
// (ConvertToHF) keep the YaRN scaling: the quantized file carries
// llama.cpp's keys, and the HF directory converted from it has the
// original rope_scaling.
func TestYaRNQuantizeAndConvertBack(t *testing.T) {
	cfg, err := Preset("tiny-qwen3-yarn")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = 320
	dir := t.TempDir()
	hf := filepath.Join(dir, "hf")
	if err := InitWith(hf, cfg, 4, InitOptions{KeepVocab: true}); err != nil {
		t.Fatal(err)
	}
	mix, err := quant.ParseMix("q8_0")
	if err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "q8.gguf")
	if err := Quantize(hf, q, QuantizeOptions{Mix: mix}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(q)
	if err != nil {
		t.Fatal(err)
	}
	kind, _ := f.String("qwen3.rope.scaling.type")
	orig, _ := f.Uint("qwen3.rope.scaling.original_context_length")
	f.Close()
	if kind != "yarn" || orig != 32768 {
		t.Errorf("quantized file: rope.scaling.type %q, original_context_length %d", kind, orig)
	}
	back := filepath.Join(dir, "back")
	if err := ConvertToHF(q, back, weights.F32, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(back)
	if err != nil {
		t.Fatal(err)
	}
	if *c.RopeScaling != *cfg.RopeScaling {
		t.Errorf("converted back: rope_scaling %+v, want %+v", *c.RopeScaling, *cfg.RopeScaling)
	}
}
