package train

import (
	"math"
	"math/rand/v2"
	"ragtune/model/qwen2"
	"testing"
)

func tinyConfig(t *testing.T) *qwen2.Config {
	t.Helper()
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = 96
	cfg.HiddenSize, cfg.IntermediateSize = 32, 48
	cfg.InitializerRange = 0.2 // large enough that float32 finite differences resolve every gradient
	return &cfg
}

// randomBatch makes a B×T batch whose first third of each row is "prompt"
// (no loss) and whose last position has no target, like padded SFT data.
func randomBatch(seed uint64, B, T, V int) *Batch {
	r := rand.New(rand.NewPCG(seed, 7))
	b := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Targets: make([]int32, B*T)}
	for i := range b.Tokens {
		b.Tokens[i] = int32(r.IntN(V))
		b.Targets[i] = int32(r.IntN(V))
		if i%T < T/3 || i%T == T-1 {
			b.Targets[i] = -100
		}
	}
	return b
}

func newTestModel(t *testing.T, cfg *qwen2.Config, mode Mode, lc LoRAConfig) *Model {
	t.Helper()
	m, err := NewModel(cfg, RandomBase(cfg, 1), mode, lc, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Adapter != nil {
		// Non-zero B, so A's gradient is not trivially zero.
		r := rand.New(rand.NewPCG(3, 4))
		for i := range m.Adapter.Data {
			if m.Adapter.Data[i] == 0 {
				m.Adapter.Data[i] = float32(0.05 * (r.Float64()*2 - 1))
			}
		}
	}
	return m
}

// TestGradFiniteDifference checks, for every trained tensor, the element
// with the largest gradient against a central difference of the loss. It
// is a float32 sanity check; the PyTorch goldens prove the rest.
func TestGradFiniteDifference(t *testing.T) {
	cfg := tinyConfig(t)
	lora := LoRAConfig{R: 4, Alpha: 8, Dropout: 0.2, Targets: ModuleNames[:]}
	for _, tc := range []struct {
		name string
		mode Mode
	}{{"full", ModeFull}, {"lora-dropout", ModeLoRA}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(t, cfg, tc.mode, lora)
			m.Training = true
			b := randomBatch(5, 2, 7, cfg.VocabSize)
			norm := float64(b.Count())
			calls := m.Calls
			if _, _, err := m.ForwardBackward(b, norm); err != nil {
				t.Fatal(err)
			}
			m.Calls = calls // the same dropout masks for the differences
			p := m.Trainable()
			worst := 0.0
			for i, n := range p.Names {
				g := m.Grads.Get(n)
				v := p.Get(n)
				j := 0
				for k := range g {
					if math.Abs(float64(g[k])) > math.Abs(float64(g[j])) {
						j = k
					}
				}
				if g[j] == 0 {
					t.Errorf("%s: gradient is all zero", n)
					continue
				}
				old := v[j]
				h := float32(1e-2) * max(1, float32(math.Abs(float64(old))))
				v[j] = old + h
				lp, _, _ := m.Loss(b)
				v[j] = old - h
				lm, _, _ := m.Loss(b)
				v[j] = old
				want := (lp - lm) / norm / float64(2*h)
				e := math.Abs(float64(g[j])-want) / math.Abs(want)
				worst = math.Max(worst, e)
				if e > 0.03 {
					t.Errorf("%s [%d] (tensor %d): grad %.6g, finite difference %.6g (rel err %.3g)", n, j, i, g[j], want, e)
				}
			}
			t.Logf("worst relative error over %d tensors: %.3g", len(p.Names), worst)
		})
	}
}

func gradsOf(t *testing.T, m *Model, batches []*Batch) []float32 {
	t.Helper()
	m.Grads.Zero()
	norm := 0.0
	for _, b := range batches {
		norm += float64(b.Count())
	}
	for _, b := range batches {
		if _, _, err := m.ForwardBackward(b, norm); err != nil {
			t.Fatal(err)
		}
	}
	return append([]float32(nil), m.Grads.Data...)
}

func TestGradCheckpointIdentical(t *testing.T) {
	cfg := tinyConfig(t)
	for _, mode := range []Mode{ModeFull, ModeLoRA} {
		lc := LoRAConfig{R: 4, Alpha: 4, Dropout: 0.1, Targets: []string{"q", "v", "down"}}
		b := randomBatch(9, 2, 9, cfg.VocabSize)
		a := newTestModel(t, cfg, mode, lc)
		a.Training = true
		c := newTestModel(t, cfg, mode, lc)
		c.Training = true
		c.GradCheckpoint = true
		ga, gc := gradsOf(t, a, []*Batch{b}), gradsOf(t, c, []*Batch{b})
		for i := range ga {
			if ga[i] != gc[i] {
				t.Fatalf("%v: gradient %d differs with checkpointing: %v vs %v", mode, i, gc[i], ga[i])
			}
		}
	}
}

// TestGradAccumulation checks that two micro-batches normalized by their
// total token count give the gradient of the whole batch.
func TestGradAccumulation(t *testing.T) {
	cfg := tinyConfig(t)
	whole := randomBatch(11, 4, 6, cfg.VocabSize)
	half := func(i int) *Batch {
		n := 2 * 6
		return &Batch{B: 2, T: 6, Tokens: whole.Tokens[i*n : (i+1)*n], Targets: whole.Targets[i*n : (i+1)*n]}
	}
	m := newTestModel(t, cfg, ModeFull, LoRAConfig{})
	got := gradsOf(t, m, []*Batch{half(0), half(1)})
	want := gradsOf(t, m, []*Batch{whole})
	worst, wi := 0.0, 0
	for i := range want {
		if e := math.Abs(float64(got[i] - want[i])); e > worst {
			worst, wi = e, i
		}
	}
	if worst > 1e-6 {
		t.Errorf("accumulated gradient differs: worst abs %.3g at %d (%v vs %v)", worst, wi, got[wi], want[wi])
	}
}

func TestLoRAStartsAtBase(t *testing.T) {
	cfg := tinyConfig(t)
	base := RandomBase(cfg, 1)
	full, _ := NewModel(cfg, base, ModeFull, LoRAConfig{}, nil, 1)
	lora, err := NewModel(cfg, base, ModeLoRA, DefaultLoRA(), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBatch(1, 1, 5, cfg.VocabSize)
	lf, _ := full.Logits(b)
	ll, _ := lora.Logits(b)
	for i := range lf {
		if lf[i] != ll[i] {
			t.Fatalf("fresh LoRA (B=0) changes logit %d: %v vs %v", i, ll[i], lf[i])
		}
	}
	// A is Kaiming-uniform with bound 1/sqrt(in).
	a := lora.Adapter.Get(PEFTPrefix + "model.layers.0.mlp.down_proj.lora_A.weight")
	bound := float32(1 / math.Sqrt(float64(cfg.IntermediateSize)))
	var maxAbs float32
	for _, v := range a {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	if maxAbs > bound || maxAbs < bound*0.8 {
		t.Errorf("lora_A max |value| %v, want just under %v", maxAbs, bound)
	}
}
