package qwen2

import (
	"fmt"
	"math"
)

// RopeScaling is config.json's rope_scaling. Only the fields of the
// schemes ragtune runs (llama3, yarn) are kept: a config with another
// scheme (linear, dynamic, longrope) is refused at load rather than run
// with the wrong positions.
type RopeScaling struct {
	RopeType string `json:"rope_type,omitempty"`
	// Type is the older spelling of RopeType some configs still use.
	Type           string  `json:"type,omitempty"`
	Factor         float64 `json:"factor,omitempty"`
	LowFreqFactor  float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor float64 `json:"high_freq_factor,omitempty"`
	// OriginalMaxPositionEmbeddings is the context the model was
	// pre-trained on before its context was extended.
	OriginalMaxPositionEmbeddings int `json:"original_max_position_embeddings,omitempty"`

	// YaRN (rope_type "yarn"). Zero values mean HF's defaults:
	// beta_fast 32, beta_slow 1, and an attention factor derived from
	// factor (or from mscale/mscale_all_dim when both are set).
	AttentionFactor float64 `json:"attention_factor,omitempty"`
	BetaFast        float64 `json:"beta_fast,omitempty"`
	BetaSlow        float64 `json:"beta_slow,omitempty"`
	Mscale          float64 `json:"mscale,omitempty"`
	MscaleAllDim    float64 `json:"mscale_all_dim,omitempty"`
	// Truncate false keeps the correction range's ends fractional (HF's
	// "truncate", gpt-oss); absent or true rounds them outwards.
	Truncate *bool `json:"truncate,omitempty"`
	// AttnFactor is DeepSeek's key (DeepSeek-R1-0528-Qwen3-8B ships 0.878…,
	// the inverse of YaRN's default 1+0.1·ln 4, so that vLLM, which
	// multiplies it into the attention factor, scales by 1). HF
	// transformers does not read it, nor does llama.cpp's runtime (its
	// converter copies it to yarn_attn_factor, which YaRN overrides), and
	// ragtune follows HF, the reference its goldens are made with: it is
	// kept so config.json survives a round trip, and ignored. Set
	// attention_factor to choose the scale.
	AttnFactor float64 `json:"attn_factor,omitempty"`
}

// Kind returns rope_type (or type), "default" when unset.
func (r *RopeScaling) Kind() string {
	switch {
	case r == nil:
		return "default"
	case r.RopeType != "":
		return r.RopeType
	case r.Type != "":
		return r.Type
	}
	return "default"
}

func (r *RopeScaling) validate() error {
	switch r.Kind() {
	case "default":
		return nil
	case "llama3":
		if r.Factor <= 0 || r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor || r.OriginalMaxPositionEmbeddings <= 0 {
			return fmt.Errorf("rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0 (got %+v)", *r)
		}
		return nil
	case "yarn":
		if r.Factor <= 0 || r.OriginalMaxPositionEmbeddings < 0 || r.AttentionFactor < 0 || r.BetaFast < 0 || r.BetaSlow < 0 || r.Mscale < 0 || r.MscaleAllDim < 0 {
			return fmt.Errorf("rope_scaling yarn needs factor > 0 and no negative original_max_position_embeddings, attention_factor, beta_fast, beta_slow, mscale or mscale_all_dim (got %+v)", *r)
		}
		return nil
	}
	return fmt.Errorf("rope_scaling type %q is not supported (ragtune runs plain RoPE, llama3 and yarn scaling); remove rope_scaling from config.json to run without it at its original context", r.Kind())
}

// RopeInvFreq returns the HeadDim/2 rotation frequencies of RoPE: θ^(-2i/HD)
// for plain RoPE; with llama3 scaling, frequencies whose wavelength
// exceeds original_max_position_embeddings/low_freq_factor are divided by
// factor, those shorter than original/high_freq_factor are kept, and those
// between are interpolated smoothly in 1/wavelength (HF's
// _compute_llama3_parameters, llama.cpp's rope_freqs); with yarn, see
// yarnRamp.
func (c *Config) RopeInvFreq() []float64 {
	HD := c.HeadDimension()
	inv := make([]float64, HD/2)
	for i := range inv {
		inv[i] = math.Pow(c.RopeTheta, -float64(2*i)/float64(HD))
	}
	if len(c.RopeFreqFactors) == len(inv) {
		for i := range inv {
			inv[i] /= c.RopeFreqFactors[i]
		}
		return inv
	}
	switch r := c.RopeScaling; r.Kind() {
	case "llama3":
		for i := range inv {
			inv[i] /= r.freqFactor(inv[i])
		}
	case "yarn":
		ramp := c.yarnRamp()
		for i := range inv {
			inv[i] = inv[i]/r.Factor*ramp[i] + inv[i]*(1-ramp[i])
		}
	}
	return inv
}

// yarnRamp returns, per frequency, how far YaRN interpolates it (divides
// it by factor): 0 for the fast frequencies that turn more than beta_fast
// times over the original context (kept, "extrapolated"), 1 for those
// turning fewer than beta_slow times (interpolated), linear in the
// frequency index between. The ends of that range are the indices where a
// frequency turns exactly beta times, rounded outwards unless truncate is
// false, and clamped to the head. This is HF transformers'
// _compute_yarn_parameters and llama.cpp's ggml_rope_yarn_corr_dims with
// rope_yarn_ramp (ext_factor 1).
//
// The context the turns are counted over is original_max_position_embeddings
// (max_position_embeddings when absent), and the interpolation divides by
// the explicit factor, as llama.cpp and HF transformers 5 do; some 4.x
// releases replaced factor by max_position_embeddings/original when both
// were set, which is the same number in published configs (R1-0528-Qwen3:
// 131072/32768 = 4).
func (c *Config) yarnRamp() []float64 {
	r := c.RopeScaling
	HD := float64(c.HeadDimension())
	orig := float64(r.OriginalMaxPositionEmbeddings)
	if orig == 0 {
		orig = float64(c.MaxPositionEmbeddings)
	}
	betaFast, betaSlow := r.BetaFast, r.BetaSlow
	if betaFast == 0 {
		betaFast = 32
	}
	if betaSlow == 0 {
		betaSlow = 1
	}
	// Index i's frequency θ^(-2i/HD) turns n times over orig positions
	// where i = HD·ln(orig/(2πn)) / (2·ln θ).
	dimFor := func(turns float64) float64 {
		return HD * math.Log(orig/(turns*2*math.Pi)) / (2 * math.Log(c.RopeTheta))
	}
	low, high := dimFor(betaFast), dimFor(betaSlow)
	if r.Truncate == nil || *r.Truncate {
		low, high = math.Floor(low), math.Ceil(high)
	}
	low, high = max(low, 0), min(high, HD-1)
	if low == high {
		high += 0.001 // one index: a step, not a division by zero
	}
	ramp := make([]float64, int(HD)/2)
	for i := range ramp {
		ramp[i] = min(max((float64(i)-low)/(high-low), 0), 1)
	}
	return ramp
}

// RopeAttentionFactor is what RoPE multiplies cos and sin by, so every
// attention score q·k is scaled by its square: 1, except for YaRN, whose
// attention_factor defaults to 0.1·ln(factor)+1 (or, with mscale and
// mscale_all_dim both set, the ratio of that formula at each, DeepSeek-V3's
// form). DeepSeek's attn_factor is not applied (see RopeScaling.AttnFactor).
func (c *Config) RopeAttentionFactor() float64 {
	r := c.RopeScaling
	if r.Kind() != "yarn" || len(c.RopeFreqFactors) > 0 {
		return 1
	}
	if r.AttentionFactor > 0 {
		return r.AttentionFactor
	}
	if r.Mscale > 0 && r.MscaleAllDim > 0 {
		return yarnMscale(r.Factor, r.Mscale) / yarnMscale(r.Factor, r.MscaleAllDim)
	}
	return yarnMscale(r.Factor, 1)
}

// yarnMscale is YaRN's attention scale for a context stretched by factor.
func yarnMscale(factor, mscale float64) float64 {
	if factor <= 1 {
		return 1
	}
	return 0.1*mscale*math.Log(factor) + 1
}

// freqFactor is what llama3 scaling divides a frequency by: factor for
// long wavelengths, 1 for short ones, a smooth blend between.
func (r *RopeScaling) freqFactor(inv float64) float64 {
	old := float64(r.OriginalMaxPositionEmbeddings)
	wavelen := 2 * math.Pi / inv
	switch {
	case wavelen < old/r.HighFreqFactor:
		return 1
	case wavelen > old/r.LowFreqFactor:
		return r.Factor
	}
	smooth := (old/wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
	return 1 / ((1-smooth)/r.Factor + smooth)
}

// ropeFreqFactors returns the per-frequency divisors llama.cpp reads from
// rope_freqs.weight, or nil when the config has no frequency scaling.
func (c *Config) ropeFreqFactors() []float64 {
	if len(c.RopeFreqFactors) > 0 {
		return c.RopeFreqFactors
	}
	r := c.RopeScaling
	if r.Kind() != "llama3" {
		return nil
	}
	HD := c.HeadDimension()
	f := make([]float64, HD/2)
	for i := range f {
		f[i] = r.freqFactor(math.Pow(c.RopeTheta, -float64(2*i)/float64(HD)))
	}
	return f
}

// RoPETables fills cos and sin (T, HeadDim/2) for positions pos0..pos0+T-1,
// the tables tensor.RoPEForward reads, scaled by RopeAttentionFactor as HF
// scales its cos/sin and llama.cpp its rotation (YaRN's mscale).
func (c *Config) RoPETables(cos, sin []float32, pos0, T int) {
	inv := c.RopeInvFreq()
	scale := c.RopeAttentionFactor()
	h := len(inv)
	for t := 0; t < T; t++ {
		p := float64(pos0 + t)
		for i, f := range inv {
			a := p * f
			cos[t*h+i], sin[t*h+i] = float32(scale*math.Cos(a)), float32(scale*math.Sin(a))
		}
	}
}
