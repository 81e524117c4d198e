package train

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/weights"
	"strings"
)

// LoadBase reads every weight a Qwen2 model needs from src into one float32
// ParamSet under HF names. F16, BF16 and (where package quant registered a
// dequantizer) Q8_0/Q4_0 tensors are widened to float32.
func LoadBase(src weights.Source, cfg *qwen2.Config) (*ParamSet, error) {
	names, shapes := BaseNames(cfg)
	p := NewParamSet(names, shapes)
	for i, n := range names {
		t, err := src.Tensor(n)
		if err != nil {
			if errors.Is(err, weights.ErrNotFound) && n == "lm_head.weight" {
				return nil, fmt.Errorf("load base weights: %s is missing; if the model ties its head to the embeddings, config.json should say \"tie_word_embeddings\": true", n)
			}
			return nil, fmt.Errorf("load base weights: %w", err)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(shapes[i]) {
			return nil, fmt.Errorf("load base weights: %s has shape %v, config.json implies %v", n, t.Shape, shapes[i])
		}
		if err := quant.Float32Into(t, p.Get(n)); err != nil {
			return nil, fmt.Errorf("load base weights: %w", err)
		}
	}
	return p, nil
}

// RandomBase returns deterministic random weights for cfg (tests and
// benchmarks): matrices U(-s, s) with s = sqrt(3)·initializer_range, norm
// weights near 1 and biases small, so every path carries gradient.
func RandomBase(cfg *qwen2.Config, seed uint64) *ParamSet {
	names, shapes := BaseNames(cfg)
	p := NewParamSet(names, shapes)
	r := rand.New(rand.NewPCG(seed, 0xba5e))
	std := cfg.InitializerRange
	if std <= 0 {
		std = 0.02
	}
	for i, n := range names {
		v := p.Get(n)
		switch {
		case strings.HasSuffix(n, "norm.weight"):
			for j := range v {
				v[j] = float32(1 + 0.1*(r.Float64()*2-1))
			}
		case strings.HasSuffix(n, ".bias"):
			for j := range v {
				v[j] = float32(0.02 * (r.Float64()*2 - 1))
			}
		default:
			s := std * 1.7320508
			if len(shapes[i]) == 2 && n == "model.embed_tokens.weight" {
				s = 1 // embeddings feed RMSNorm; scale does not matter there
			}
			for j := range v {
				v[j] = float32(s * (r.Float64()*2 - 1))
			}
		}
	}
	return p
}

// CountParams returns the number of weights of a Qwen2 model with cfg.
func CountParams(cfg *qwen2.Config) int {
	_, shapes := BaseNames(cfg)
	n := 0
	for _, s := range shapes {
		n += numel(s)
	}
	return n
}
