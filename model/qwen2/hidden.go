package qwen2

import "ragtune/tensor"

// Hidden runs tokens like Forward but returns the last token's final
// hidden state (after the model's last RMSNorm, the lm_head input),
// C floats owned by the caller: what decoder embedding models such as
// Qwen3-Embedding pool ("last-token pooling").
func (s *State) Hidden(tokens []int) ([]float32, error) {
	if err := s.check(tokens); err != nil {
		return nil, err
	}
	for i := 0; i < len(tokens); i += s.chunk {
		s.step(tokens[i:min(i+s.chunk, len(tokens))])
	}
	m := s.m
	C := m.dim
	r := (len(tokens) - 1) % s.chunk
	out := make([]float32, C)
	tensor.RMSNorm(out, s.a.x[r*C:(r+1)*C], m.norm, 1, C, m.eps)
	return out, nil
}
