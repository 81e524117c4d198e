package safetensors

import (
	"errors"
	"fmt"

	"ragtune/weights"
)

// WeightsDType maps a safetensors dtype to the weights.DType ragtune
// computes with.
func WeightsDType(d DType) (weights.DType, error) {
	switch d {
	case F32:
		return weights.F32, nil
	case F16:
		return weights.F16, nil
	case BF16:
		return weights.BF16, nil
	}
	return 0, fmt.Errorf("dtype %s is not a weight type ragtune computes with (F32, F16, BF16)", d)
}

// FromWeightsDType maps a float weights.DType to its safetensors name.
func FromWeightsDType(d weights.DType) (DType, error) {
	switch d {
	case weights.F32:
		return F32, nil
	case weights.F16:
		return F16, nil
	case weights.BF16:
		return BF16, nil
	}
	return "", fmt.Errorf("safetensors cannot hold %s tensors (F32, F16, BF16 only): dequantize first", d)
}

// Source presents a Set as a weights.Source. Names are the file's own
// (HF checkpoints already use HF names).
type Source struct {
	Set *Set
}

// NewSource wraps s; closing the Source closes s.
func NewSource(s *Set) *Source { return &Source{Set: s} }

// Tensor returns the named tensor with its dtype mapped, or an error
// wrapping weights.ErrNotFound.
func (s *Source) Tensor(name string) (*weights.Tensor, error) {
	t, err := s.Set.Tensor(name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %q", weights.ErrNotFound, name)
		}
		return nil, err
	}
	dt, err := WeightsDType(t.DType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return &weights.Tensor{Name: name, DType: dt, Shape: t.Shape, Data: t.Data}, nil
}

func (s *Source) Names() []string { return s.Set.Names() }
func (s *Source) Close() error    { return s.Set.Close() }

// ReleasePages implements weights.PageReleaser.
func (s *Source) ReleasePages(t *weights.Tensor) { s.Set.ReleasePages(t.Data) }
