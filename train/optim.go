package train

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"ragtune/tensor"
)

// AdamW is PyTorch's torch.optim.AdamW: decoupled weight decay, bias
// corrected moments. M and V share the parameters' flat layout, so one loop
// updates everything and a checkpoint saves them as two more arrays.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// DecayAll also decays biases and norm weights (off by default, as in
	// most SFT recipes).
	DecayAll bool
	M, V     *ParamSet
	Step     int // updates done so far
	decay    []bool
}

// NewAdamW makes an optimizer for p with zeroed moments.
func NewAdamW(p *ParamSet, beta1, beta2, eps, wd float64, decayAll bool) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: wd, DecayAll: decayAll, M: p.Like(), V: p.Like()}
	for i, n := range p.Names {
		o.decay = append(o.decay, decayAll || !(len(p.Shapes[i]) == 1 || strings.HasSuffix(n, ".bias") || strings.HasSuffix(n, "norm.weight")))
	}
	return o
}

// Update applies one step with learning rate lr to p from gradients g.
func (o *AdamW) Update(p, g *ParamSet, lr float64) {
	o.Step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := math.Sqrt(1 - math.Pow(o.Beta2, float64(o.Step)))
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	stepSize := float32(lr / bc1)
	inv2 := float32(1 / bc2)
	eps := float32(o.Eps)
	for i := range p.Names {
		lo, hi := p.Offsets[i], p.Offsets[i]+numel(p.Shapes[i])
		wd := float32(1)
		if o.decay[i] {
			wd = float32(1 - lr*o.WeightDecay)
		}
		pw, gw, mw, vw := p.Data[lo:hi], g.Data[lo:hi], o.M.Data[lo:hi], o.V.Data[lo:hi]
		tensor.ParallelFor(len(pw), func(a, b int) {
			for j := a; j < b; j++ {
				gr := gw[j]
				m := b1*mw[j] + (1-b1)*gr
				v := b2*vw[j] + (1-b2)*gr*gr
				mw[j], vw[j] = m, v
				denom := float32(math.Sqrt(float64(v)))*inv2 + eps
				pw[j] = pw[j]*wd - stepSize*m/denom
			}
		})
	}
}

// ClipGradNorm scales g so its global L2 norm is at most maxNorm (as
// torch.nn.utils.clip_grad_norm_ does, with its 1e-6 guard) and returns the
// norm before clipping. maxNorm <= 0 only measures.
func ClipGradNorm(g *ParamSet, maxNorm float64) float64 {
	n := g.Norm()
	if maxNorm > 0 {
		if c := maxNorm / (n + 1e-6); c < 1 {
			cf := float32(c)
			for i := range g.Data {
				g.Data[i] *= cf
			}
		}
	}
	return n
}

// Schedule is a learning-rate schedule with linear warmup, as HF's
// get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup: the
// factor at update k (0-based) rises k/warmup, then decays to 0 at Total.
type Schedule struct {
	Kind   string // "linear", "cosine" or "constant"
	Peak   float64
	Warmup int
	Total  int
}

// ParseSchedule checks a schedule name.
func ParseSchedule(kind string) error {
	switch kind {
	case "linear", "cosine", "constant":
		return nil
	}
	return fmt.Errorf("unknown schedule %q (use linear, cosine or constant)", kind)
}

// LR returns the learning rate of update k (0-based).
func (s Schedule) LR(k int) float64 {
	if k < s.Warmup {
		return s.Peak * float64(k) / float64(max(1, s.Warmup))
	}
	rest := float64(max(1, s.Total-s.Warmup))
	prog := float64(k-s.Warmup) / rest
	switch s.Kind {
	case "linear":
		return s.Peak * math.Max(0, 1-prog)
	case "cosine":
		return s.Peak * math.Max(0, 0.5*(1+math.Cos(math.Pi*prog)))
	}
	return s.Peak
}

// StepResult is what one optimizer step measured.
type StepResult struct {
	Loss     float64 // token-mean loss over the step's micro-batches
	Tokens   int     // counted (target) tokens
	GradNorm float64 // before clipping
}

// TrainStep runs one optimizer step: gradients of the token-mean loss over
// all micro-batches (gradient accumulation), global-norm clipping, AdamW.
// A NaN or Inf loss or gradient returns an error and leaves the weights
// untouched.
func (m *Model) TrainStep(opt *AdamW, micro []*Batch, clip, lr float64) (StepResult, error) {
	m.Grads.Zero()
	total := 0
	for _, b := range micro {
		total += b.Count()
	}
	if total == 0 {
		return StepResult{}, fmt.Errorf("training step has no target tokens (every label is masked)")
	}
	m.Training = true
	defer func() { m.Training = false }()
	var sum float64
	for _, b := range micro {
		s, _, err := m.ForwardBackward(b, float64(total))
		if err != nil {
			return StepResult{}, err
		}
		sum += s
	}
	res := StepResult{Loss: sum / float64(total), Tokens: total}
	res.GradNorm = ClipGradNorm(m.Grads, clip)
	if !finite(res.Loss) || !finite(res.GradNorm) {
		return res, fmt.Errorf("%w: loss %v, gradient norm %v", ErrNonFinite, res.Loss, res.GradNorm)
	}
	opt.Update(m.Trainable(), m.Grads, lr)
	return res, nil
}

// ErrNonFinite reports a NaN or Inf loss or gradient.
var ErrNonFinite = errors.New("loss or gradient is NaN or Inf")
