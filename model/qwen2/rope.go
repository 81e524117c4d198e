package qwen2

import (
	"fmt"
	"math"
)

// RopeScaling is config.json's rope_scaling. Only the fields of the
// schemes ragtune runs are kept: a config with another scheme (linear,
// dynamic, yarn) is refused at load rather than run with the wrong
// positions.
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
	}
	return fmt.Errorf("rope_scaling type %q is not supported (ragtune runs plain RoPE and llama3 scaling); remove rope_scaling from config.json to run without it at its original context", r.Kind())
}

// RopeInvFreq returns the HeadDim/2 rotation frequencies of RoPE: θ^(-2i/HD)
// for plain RoPE; with llama3 scaling, frequencies whose wavelength
// exceeds original_max_position_embeddings/low_freq_factor are divided by
// factor, those shorter than original/high_freq_factor are kept, and those
// between are interpolated smoothly in 1/wavelength (HF's
// _compute_llama3_parameters, llama.cpp's rope_freqs).
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
	if r := c.RopeScaling; r.Kind() == "llama3" {
		for i := range inv {
			inv[i] /= r.freqFactor(inv[i])
		}
	}
	return inv
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
// the tables tensor.RoPEForward reads.
func (c *Config) RoPETables(cos, sin []float32, pos0, T int) {
	inv := c.RopeInvFreq()
	h := len(inv)
	for t := 0; t < T; t++ {
		p := float64(pos0 + t)
		for i, f := range inv {
			a := p * f
			cos[t*h+i], sin[t*h+i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
}
