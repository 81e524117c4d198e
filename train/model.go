// Package train fine-tunes Qwen2-family decoder models (DeepSeek-R1-Distill
// among them) with supervised data: LoRA on a frozen base or full-parameter
// training, a hand-written backward pass, AdamW with clipping and schedules,
// resumable checkpoints, and PEFT-format adapter export and merging.
//
// It trains; it does not generate (package llm) or run inference with a KV
// cache (package model/qwen2). The training forward here recomputes every
// position of a batch and keeps what the backward pass needs.
package train

import (
	"fmt"
	"math"

	"ragtune/model/qwen2"
	"ragtune/tensor"
)

// Mode selects which weights train.
type Mode int

const (
	// ModeLoRA freezes the base and trains low-rank adapters.
	ModeLoRA Mode = iota
	// ModeFull trains every weight of the model.
	ModeFull
)

func (m Mode) String() string {
	if m == ModeFull {
		return "full"
	}
	return "lora"
}

// ParseMode reads "lora" or "full".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "lora", "":
		return ModeLoRA, nil
	case "full":
		return ModeFull, nil
	}
	return 0, fmt.Errorf("unknown training mode %q (use lora or full)", s)
}

// Batch is B token sequences of T positions, right-padded. Targets[n] is
// the token position n should predict (the HF labels shifted left by one),
// or negative where no loss is taken (prompt tokens, padding).
type Batch struct {
	Tokens  []int32 // (B, T)
	Targets []int32 // (B, T)
	B, T    int
}

// Count returns how many positions carry a loss.
func (b *Batch) Count() int {
	n := 0
	for _, t := range b.Targets {
		if t >= 0 {
			n++
		}
	}
	return n
}

// linear is one projection: the base weight (frozen in LoRA mode) and,
// when targeted, its LoRA pair. Gradient views are nil when not trained.
type linear struct {
	w, b, dw, db []float32         // w (out, in), b (out)
	dec          tensor.RowDecoder // compressed frozen w (then w is nil)
	in, out      int
	a, bm        []float32 // LoRA A (r, in), B (out, r)
	da, dbm      []float32
	id           int // module index, part of the dropout key
}

type layer struct {
	inNorm, postNorm, dInNorm, dPostNorm []float32 // (C)
	// Qwen3's per-head q/k RMSNorm weights and their gradients (HS);
	// nil for families without them.
	qNorm, kNorm, dQNorm, dKNorm []float32
	lin                          [numModules]linear
}

// Module indices, in PEFT's default Qwen2 target order.
const (
	modQ = iota
	modK
	modV
	modO
	modGate
	modUp
	modDown
	numModules
)

// ModuleNames are the short target names (--target q,k,v,o,gate,up,down).
var ModuleNames = [numModules]string{"q", "k", "v", "o", "gate", "up", "down"}

func hfModuleName(m int) string {
	if m <= modO {
		return "self_attn." + ModuleNames[m] + "_proj"
	}
	return "mlp." + ModuleNames[m] + "_proj"
}

// layerActs is what one layer's forward saves for its backward.
type layerActs struct {
	ln1, rstd1   []float32             // (N, C), (N)
	q, k, v      []float32             // (N, NH*HS), (N, NKV*HS) ×2, after RoPE
	qraw, kraw   []float32             // (N, NH*HS), (N, NKV*HS) projections before q/k norm (Qwen3)
	qrstd, krstd []float32             // (N*NH), (N*NKV) their per-head 1/rms
	att          []float32             // (B, NH, T, T)
	ctx          []float32             // (N, NH*HS) attention output, o_proj input
	res2         []float32             // (N, C) x + attention
	ln2, rstd2   []float32             // (N, C), (N)
	gate, up, h  []float32             // (N, I)
	u            [numModules][]float32 // (N, r) LoRA A outputs
}

// Model is a Qwen2 decoder set up for training: weights, gradients and
// activation buffers. Base holds every HF weight in float32 under its HF
// name; in LoRA mode it is frozen and Adapter holds the trainable A/B
// matrices under their PEFT names.
type Model struct {
	Cfg     *qwen2.Config
	Mode    Mode
	Base    *ParamSet
	Adapter *ParamSet // nil in full mode
	LoRA    LoRAConfig
	// Grads has the layout of Trainable().
	Grads *ParamSet
	// GradCheckpoint keeps only each layer's input and recomputes the
	// layer's forward during backward (memory for time).
	GradCheckpoint bool
	// DropoutSeed and Calls key LoRA dropout masks, so a resumed or
	// recomputed forward draws the same masks.
	DropoutSeed uint64
	Calls       uint64
	// Training enables LoRA dropout.
	Training bool

	C, I, NH, NKV, HS, V, L int
	eps                     float32
	embed, dEmbed           []float32
	normF, dNormF           []float32
	head, dHead             []float32
	headDec                 tensor.RowDecoder
	frozen                  Frozen
	layers                  []layer

	// activation and scratch buffers, grown to the largest batch seen
	curB, curT  int
	resid       [][]float32 // L+1 × (N, C)
	acts        []layerActs
	lnf, rstdf  []float32
	cos, sin    []float32
	scratch     scratchBufs
	lossRows    []int
	logitsChunk []float32
	rowLosses   []float32
}

type scratchBufs struct {
	dres, dln, dctx, dq, dk, dv, dh, dgate, dup []float32
	dqraw, dkraw                                []float32 // Qwen3: gradients before q/k norm
	xd, tmp, dys, du, dxd                       []float32
	lnRows, dlnRows, dlnf                       []float32
	decW, decOut                                []float32
}

// Trainable returns the parameters the optimizer updates.
func (m *Model) Trainable() *ParamSet {
	if m.Mode == ModeFull {
		return m.Base
	}
	return m.Adapter
}

// BaseNames returns the names and shapes of the model's weights in the
// order of qwen2.Tensors, the family's one tensor table, which the base
// ParamSet, checkpoints and the optimizer follow.
func BaseNames(cfg *qwen2.Config) ([]string, [][]int) {
	specs := qwen2.Tensors(cfg)
	names := make([]string, len(specs))
	shapes := make([][]int, len(specs))
	for i, s := range specs {
		names[i], shapes[i] = s.Name, s.Shape
	}
	return names, shapes
}

// NewModel builds a training model over base (which it keeps and, in full
// mode, updates in place). In LoRA mode adapter may be nil, in which case
// fresh LoRA weights are initialized as PEFT does (A Kaiming-uniform, B
// zero) from seed.
func NewModel(cfg *qwen2.Config, base *ParamSet, mode Mode, lc LoRAConfig, adapter *ParamSet, seed uint64) (*Model, error) {
	return newModel(cfg, base, nil, mode, lc, adapter, seed)
}

// NewLoRAModel is NewModel in LoRA mode over a base whose projections are
// held compressed (LoadFrozenBase).
func NewLoRAModel(cfg *qwen2.Config, base *ParamSet, frozen Frozen, lc LoRAConfig, adapter *ParamSet, seed uint64) (*Model, error) {
	return newModel(cfg, base, frozen, ModeLoRA, lc, adapter, seed)
}

func newModel(cfg *qwen2.Config, base *ParamSet, frozen Frozen, mode Mode, lc LoRAConfig, adapter *ParamSet, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(frozen) > 0 && mode != ModeLoRA {
		return nil, fmt.Errorf("compressed base weights can only be trained with LoRA (use --base-dtype f32 for full training)")
	}
	all, allShapes := BaseNames(cfg)
	var names []string
	var shapes [][]int
	for i, n := range all {
		if frozen[n] == nil {
			names, shapes = append(names, n), append(shapes, allShapes[i])
		}
	}
	if err := (&ParamSet{Names: names, Shapes: shapes}).sameLayout(base); err != nil {
		return nil, fmt.Errorf("base weights do not match the config: %w", err)
	}
	m := &Model{
		Cfg: cfg, Mode: mode, Base: base, LoRA: lc, DropoutSeed: seed, frozen: frozen,
		C: cfg.HiddenSize, I: cfg.IntermediateSize, NH: cfg.NumAttentionHeads,
		NKV: cfg.NumKeyValueHeads, HS: cfg.HeadDimension(), V: cfg.VocabSize,
		L: cfg.NumHiddenLayers, eps: float32(cfg.RMSNormEps),
	}
	if mode == ModeLoRA {
		if err := lc.Validate(); err != nil {
			return nil, err
		}
		if adapter == nil {
			adapter = NewAdapterParams(cfg, lc)
			initLoRA(adapter, seed)
		} else {
			want := NewAdapterParams(cfg, lc)
			if err := want.sameLayout(adapter); err != nil {
				return nil, fmt.Errorf("adapter does not match the LoRA config: %w", err)
			}
		}
		m.Adapter = adapter
	}
	m.Grads = m.Trainable().Like()
	m.bind()
	return m, nil
}

// bind points the per-layer views at Base, Adapter and Grads.
func (m *Model) bind() {
	full := m.Mode == ModeFull
	g := func(name string) []float32 {
		if !full {
			return nil
		}
		return m.Grads.Get(name)
	}
	m.embed, m.dEmbed = m.Base.Get("model.embed_tokens.weight"), g("model.embed_tokens.weight")
	m.normF, m.dNormF = m.Base.Get("model.norm.weight"), g("model.norm.weight")
	if m.Cfg.TieWordEmbeddings {
		m.head, m.dHead = m.embed, m.dEmbed
	} else {
		m.head, m.dHead = m.Base.Get("lm_head.weight"), g("lm_head.weight")
		m.headDec = m.frozen["lm_head.weight"]
	}
	var dims [numModules][2]int // (in, out)
	for mi := range dims {
		dims[mi][0], dims[mi][1] = moduleDims(m.Cfg, mi)
	}
	m.layers = make([]layer, m.L)
	for l := range m.layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		ly := &m.layers[l]
		ly.inNorm, ly.dInNorm = m.Base.Get(p+"input_layernorm.weight"), g(p+"input_layernorm.weight")
		ly.postNorm, ly.dPostNorm = m.Base.Get(p+"post_attention_layernorm.weight"), g(p+"post_attention_layernorm.weight")
		if m.Cfg.HasQKNorm() {
			ly.qNorm, ly.dQNorm = m.Base.Get(p+"self_attn.q_norm.weight"), g(p+"self_attn.q_norm.weight")
			ly.kNorm, ly.dKNorm = m.Base.Get(p+"self_attn.k_norm.weight"), g(p+"self_attn.k_norm.weight")
		}
		for mi := range numModules {
			n := p + hfModuleName(mi)
			lin := linear{in: dims[mi][0], out: dims[mi][1], id: mi,
				w: m.Base.Get(n + ".weight"), b: m.Base.Get(n + ".bias"),
				dw: g(n + ".weight"), db: g(n + ".bias"), dec: m.frozen[n+".weight"]}
			if m.Adapter != nil {
				an := PEFTPrefix + n
				lin.a, lin.bm = m.Adapter.Get(an+".lora_A.weight"), m.Adapter.Get(an+".lora_B.weight")
				lin.da, lin.dbm = m.Grads.Get(an+".lora_A.weight"), m.Grads.Get(an+".lora_B.weight")
			}
			ly.lin[mi] = lin
		}
	}
}

func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// ensure sizes the activation buffers for a B×T batch.
func (m *Model) ensure(B, T int) {
	N := B * T
	C, I, qd, kd := m.C, m.I, m.NH*m.HS, m.NKV*m.HS
	nacts := m.L
	if m.GradCheckpoint {
		nacts = 1
	}
	if len(m.resid) != m.L+1 {
		m.resid = make([][]float32, m.L+1)
	}
	for i := range m.resid {
		grow(&m.resid[i], N*C)
	}
	if len(m.acts) != nacts {
		m.acts = make([]layerActs, nacts)
	}
	r := m.LoRA.R
	for i := range m.acts {
		a := &m.acts[i]
		grow(&a.ln1, N*C)
		grow(&a.rstd1, N)
		grow(&a.q, N*qd)
		grow(&a.k, N*kd)
		grow(&a.v, N*kd)
		if m.Cfg.HasQKNorm() {
			grow(&a.qraw, N*qd)
			grow(&a.kraw, N*kd)
			grow(&a.qrstd, N*m.NH)
			grow(&a.krstd, N*m.NKV)
		}
		grow(&a.att, B*m.NH*T*T)
		grow(&a.ctx, N*qd)
		grow(&a.res2, N*C)
		grow(&a.ln2, N*C)
		grow(&a.rstd2, N)
		grow(&a.gate, N*I)
		grow(&a.up, N*I)
		grow(&a.h, N*I)
		if m.Adapter != nil {
			for mi := range numModules {
				if m.layers[0].lin[mi].a != nil {
					grow(&a.u[mi], N*r)
				}
			}
		}
	}
	grow(&m.lnf, N*C)
	grow(&m.rstdf, N)
	if m.curT != T {
		grow(&m.cos, T*m.HS/2)
		grow(&m.sin, T*m.HS/2)
		m.Cfg.RoPETables(m.cos, m.sin, 0, T) // with the config's RoPE scaling (Llama 3)
	}
	m.curB, m.curT = B, T
	s := &m.scratch
	wide := max(C, qd, I)
	grow(&s.dres, N*C)
	grow(&s.dln, N*C)
	grow(&s.dctx, N*qd)
	grow(&s.dq, N*qd)
	grow(&s.dk, N*kd)
	grow(&s.dv, N*kd)
	if m.Cfg.HasQKNorm() {
		grow(&s.dqraw, N*qd)
		grow(&s.dkraw, N*kd)
	}
	grow(&s.dh, N*I)
	grow(&s.dgate, N*I)
	grow(&s.dup, N*I)
	grow(&s.xd, N*wide)
	grow(&s.tmp, N*wide)
	grow(&s.dys, N*wide)
	grow(&s.du, N*max(r, 1))
	grow(&s.dxd, N*wide)
	grow(&s.dlnf, N*C)
}

// actsFor returns the activation set of layer l.
func (m *Model) actsFor(l int) *layerActs {
	if m.GradCheckpoint {
		return &m.acts[0]
	}
	return &m.acts[l]
}

// dropoutInput writes x (N, in) with LoRA dropout applied into xd and
// returns it, or returns x itself when dropout is off. The mask is a hash of
// (seed, call, layer, module, element), so recomputation reproduces it.
func (m *Model) dropoutInput(xd, x []float32, l, mi int) []float32 {
	p := m.LoRA.Dropout
	if !m.Training || p <= 0 {
		return x
	}
	xd = xd[:len(x)]
	key := mix64(m.DropoutSeed ^ mix64(m.Calls*0x9e3779b97f4a7c15+uint64(l)*131+uint64(mi)+1))
	keep := float32(1 / (1 - p))
	thresh := uint64(p * (1 << 53))
	tensor.ParallelFor(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if mix64(key+uint64(i)*0xbf58476d1ce4e5b9)>>11 < thresh {
				xd[i] = 0
			} else {
				xd[i] = x[i] * keep
			}
		}
	})
	return xd
}

// mix64 is SplitMix64's finalizer: a cheap, well-mixed hash.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// linearForward sets y (N, out) = x W^T + b (+ scale · dropout(x) A^T B^T).
// PEFT: result = base(x) + lora_B(lora_A(dropout(x))) * scaling.
func (m *Model) linearForward(y, x []float32, lin *linear, u []float32, l, N int) {
	if lin.dec != nil {
		tensor.MatMulDecoded(y, x, lin.dec, lin.b, N, lin.in, lin.out)
	} else {
		tensor.MatMul(y, x, lin.w, lin.b, N, lin.in, lin.out)
	}
	if lin.a == nil {
		return
	}
	r := m.LoRA.R
	xd := m.dropoutInput(m.scratch.xd, x, l, lin.id)
	tensor.MatMul(u, xd, lin.a, nil, N, lin.in, r)
	tmp := m.scratch.tmp[:N*lin.out]
	tensor.MatMul(tmp, u, lin.bm, nil, N, r, lin.out)
	tensor.Axpy(y[:N*lin.out], tmp, m.LoRA.Scale())
}

// linearBackward accumulates dx (N, in) and the trained weights' gradients
// from dy (N, out), for input x and saved LoRA activation u.
func (m *Model) linearBackward(dx, dy, x []float32, lin *linear, u []float32, l, N int) {
	if lin.dec != nil {
		m.decodedBackwardInput(dx, dy, lin.dec, N, lin.in, lin.out)
	} else {
		tensor.MatMulBackward(dx, lin.dw, lin.db, dy, x, lin.w, N, lin.in, lin.out)
	}
	if lin.a == nil {
		return
	}
	r := m.LoRA.R
	s := &m.scratch
	dys := s.dys[:N*lin.out]
	sc := m.LoRA.Scale()
	for i, v := range dy[:N*lin.out] {
		dys[i] = v * sc
	}
	du := s.du[:N*r]
	clear(du)
	tensor.MatMulBackward(du, lin.dbm, nil, dys, u, lin.bm, N, r, lin.out)
	xd := m.dropoutInput(s.xd, x, l, lin.id)
	if m.Training && m.LoRA.Dropout > 0 {
		dxd := s.dxd[:N*lin.in]
		clear(dxd)
		tensor.MatMulBackward(dxd, lin.da, nil, du, xd, lin.a, N, lin.in, r)
		// d dropout(x)/dx is keep/(1-p) where kept, 0 where dropped; xd
		// is zero exactly where dropped (or where x was zero, whose
		// gradient the mask value does not change).
		keep := float32(1 / (1 - m.LoRA.Dropout))
		for i, v := range dxd {
			if xd[i] != 0 || x[i] == 0 && m.kept(l, lin.id, i) {
				dx[i] += v * keep
			}
		}
		return
	}
	tensor.MatMulBackward(dx, lin.da, nil, du, xd, lin.a, N, lin.in, r)
}

// kept reports whether element i survives dropout (for zero inputs, where
// the dropped-out value cannot tell).
func (m *Model) kept(l, mi, i int) bool {
	key := mix64(m.DropoutSeed ^ mix64(m.Calls*0x9e3779b97f4a7c15+uint64(l)*131+uint64(mi)+1))
	thresh := uint64(m.LoRA.Dropout * (1 << 53))
	return mix64(key+uint64(i)*0xbf58476d1ce4e5b9)>>11 >= thresh
}

// layerForward runs layer l from x = resid[l] into resid[l+1].
func (m *Model) layerForward(l int, b *Batch) {
	B, T := b.B, b.T
	N := B * T
	C, I := m.C, m.I
	ly := &m.layers[l]
	a := m.actsFor(l)
	x, out := m.resid[l], m.resid[l+1]
	tensor.RMSNormForward(a.ln1, a.rstd1, x, ly.inNorm, N, C, m.eps)
	if ly.qNorm != nil {
		// q = self.q_norm(q_proj(ln1).view(N, NH, HS)); k likewise
		m.linearForward(a.qraw, a.ln1, &ly.lin[modQ], a.u[modQ], l, N)
		m.linearForward(a.kraw, a.ln1, &ly.lin[modK], a.u[modK], l, N)
		tensor.RMSNormForward(a.q, a.qrstd, a.qraw, ly.qNorm, N*m.NH, m.HS, m.eps)
		tensor.RMSNormForward(a.k, a.krstd, a.kraw, ly.kNorm, N*m.NKV, m.HS, m.eps)
	} else {
		m.linearForward(a.q, a.ln1, &ly.lin[modQ], a.u[modQ], l, N)
		m.linearForward(a.k, a.ln1, &ly.lin[modK], a.u[modK], l, N)
	}
	m.linearForward(a.v, a.ln1, &ly.lin[modV], a.u[modV], l, N)
	tensor.RoPEForward(a.q, m.cos, m.sin, N, T, m.NH, m.HS)
	tensor.RoPEForward(a.k, m.cos, m.sin, N, T, m.NKV, m.HS)
	tensor.CausalAttentionForward(a.ctx, a.att, a.q, a.k, a.v, B, T, m.NH, m.NKV, m.HS)
	m.linearForward(a.res2, a.ctx, &ly.lin[modO], a.u[modO], l, N)
	tensor.Axpy(a.res2[:N*C], x, 1)
	tensor.RMSNormForward(a.ln2, a.rstd2, a.res2, ly.postNorm, N, C, m.eps)
	m.linearForward(a.gate, a.ln2, &ly.lin[modGate], a.u[modGate], l, N)
	m.linearForward(a.up, a.ln2, &ly.lin[modUp], a.u[modUp], l, N)
	tensor.SwiGLU(a.h[:N*I], a.gate[:N*I], a.up[:N*I]) // F.silu(gate(x)) * up(x)
	m.linearForward(out, a.h, &ly.lin[modDown], a.u[modDown], l, N)
	tensor.Axpy(out[:N*C], a.res2, 1)
}

// layerBackward takes dres = d resid[l+1] and leaves d resid[l] in it.
func (m *Model) layerBackward(l int, b *Batch) {
	B, T := b.B, b.T
	N := B * T
	C, I, qd, kd := m.C, m.I, m.NH*m.HS, m.NKV*m.HS
	ly := &m.layers[l]
	a := m.actsFor(l)
	s := &m.scratch
	dres := s.dres[:N*C]
	// MLP: out = res2 + down(silu(gate(ln2)) * up(ln2)).
	dh := s.dh[:N*I]
	clear(dh)
	m.linearBackward(dh, dres, a.h, &ly.lin[modDown], a.u[modDown], l, N)
	dgate, dup := s.dgate[:N*I], s.dup[:N*I]
	clear(dgate)
	clear(dup)
	tensor.SwiGLUBackward(dgate, dup, dh, a.gate[:N*I], a.up[:N*I])
	dln := s.dln[:N*C]
	clear(dln)
	m.linearBackward(dln, dgate, a.ln2, &ly.lin[modGate], a.u[modGate], l, N)
	m.linearBackward(dln, dup, a.ln2, &ly.lin[modUp], a.u[modUp], l, N)
	tensor.RMSNormBackward(dres, ly.dPostNorm, dln, a.res2, ly.postNorm, a.rstd2, N, C)
	// Attention: res2 = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))).
	dctx := s.dctx[:N*qd]
	clear(dctx)
	m.linearBackward(dctx, dres, a.ctx, &ly.lin[modO], a.u[modO], l, N)
	dq, dk, dv := s.dq[:N*qd], s.dk[:N*kd], s.dv[:N*kd]
	clear(dq)
	clear(dk)
	clear(dv)
	tensor.CausalAttentionBackward(dq, dk, dv, dctx, a.att, a.q, a.k, a.v, B, T, m.NH, m.NKV, m.HS)
	tensor.RoPEBackward(dq, m.cos, m.sin, N, T, m.NH, m.HS)
	tensor.RoPEBackward(dk, m.cos, m.sin, N, T, m.NKV, m.HS)
	if ly.qNorm != nil {
		dqraw, dkraw := s.dqraw[:N*qd], s.dkraw[:N*kd]
		clear(dqraw)
		clear(dkraw)
		tensor.RMSNormBackward(dqraw, ly.dQNorm, dq, a.qraw, ly.qNorm, a.qrstd, N*m.NH, m.HS)
		tensor.RMSNormBackward(dkraw, ly.dKNorm, dk, a.kraw, ly.kNorm, a.krstd, N*m.NKV, m.HS)
		dq, dk = dqraw, dkraw
	}
	clear(dln)
	m.linearBackward(dln, dq, a.ln1, &ly.lin[modQ], a.u[modQ], l, N)
	m.linearBackward(dln, dk, a.ln1, &ly.lin[modK], a.u[modK], l, N)
	m.linearBackward(dln, dv, a.ln1, &ly.lin[modV], a.u[modV], l, N)
	tensor.RMSNormBackward(dres, ly.dInNorm, dln, m.resid[l], ly.inNorm, a.rstd1, N, C)
}

func (m *Model) checkBatch(b *Batch) error {
	if b.B <= 0 || b.T <= 0 || len(b.Tokens) != b.B*b.T || len(b.Targets) != b.B*b.T {
		return fmt.Errorf("batch is %d×%d but holds %d tokens and %d targets", b.B, b.T, len(b.Tokens), len(b.Targets))
	}
	for i, t := range b.Tokens {
		if t < 0 || int(t) >= m.V {
			return fmt.Errorf("token %d at position %d is outside the vocabulary (size %d)", t, i, m.V)
		}
		if int(b.Targets[i]) >= m.V {
			return fmt.Errorf("target %d at position %d is outside the vocabulary (size %d)", b.Targets[i], i, m.V)
		}
	}
	return nil
}

// forwardBody runs embedding, all layers and the final norm.
func (m *Model) forwardBody(b *Batch) {
	N := b.B * b.T
	m.ensure(b.B, b.T)
	tensor.EmbeddingForward(m.resid[0], b.Tokens, m.embed, N, m.C)
	for l := 0; l < m.L; l++ {
		m.layerForward(l, b)
	}
	tensor.RMSNormForward(m.lnf, m.rstdf, m.resid[m.L], m.normF, N, m.C, m.eps)
}

// Logits returns the (B*T, V) logits of a batch (for tests and
// evaluation; training never materializes them all at once).
func (m *Model) Logits(b *Batch) ([]float32, error) {
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	m.forwardBody(b)
	N := b.B * b.T
	out := make([]float32, N*m.V)
	m.headForward(out, m.lnf, N)
	return out, nil
}

// headChunk is how many rows of logits exist at once: the LM head and the
// loss run over counted rows in chunks of this size, so a 150k vocabulary
// costs headChunk×V floats (78 MB for a 152k vocabulary) instead of N×V.
const headChunk = 128

// lossAndHead computes the summed loss over counted rows and, when
// backward, writes d lnf into s.dlnf (scaled by 1/norm) and accumulates the
// head's weight gradient.
func (m *Model) lossAndHead(b *Batch, backward bool, norm float64) float64 {
	N, C, V := b.B*b.T, m.C, m.V
	m.lossRows = m.lossRows[:0]
	for n := 0; n < N; n++ {
		if b.Targets[n] >= 0 {
			m.lossRows = append(m.lossRows, n)
		}
	}
	dlnf := m.scratch.dlnf[:N*C]
	if backward {
		clear(dlnf)
	}
	logits := grow(&m.logitsChunk, headChunk*V)
	ln := grow(&m.scratch.lnRows, headChunk*C)
	dln := grow(&m.scratch.dlnRows, headChunk*C)
	losses := grow(&m.rowLosses, headChunk)
	targets := make([]int32, headChunk)
	var sum float64
	for c0 := 0; c0 < len(m.lossRows); c0 += headChunk {
		rows := m.lossRows[c0:min(c0+headChunk, len(m.lossRows))]
		R := len(rows)
		for i, n := range rows {
			copy(ln[i*C:i*C+C], m.lnf[n*C:n*C+C])
			targets[i] = b.Targets[n]
		}
		m.headForward(logits, ln, R)
		tensor.CrossEntropyInPlace(losses, logits[:R*V], targets[:R], float32(1/norm), R, V)
		for _, l := range losses[:R] {
			sum += float64(l)
		}
		if !backward {
			continue
		}
		clear(dln[:R*C])
		if m.headDec != nil {
			m.decodedBackwardInput(dln, logits, m.headDec, R, C, V)
		} else {
			tensor.MatMulBackward(dln, m.dHead, nil, logits, ln, m.head, R, C, V)
		}
		for i, n := range rows {
			copy(dlnf[n*C:n*C+C], dln[i*C:i*C+C])
		}
	}
	return sum
}

func (m *Model) headForward(out, x []float32, N int) {
	if m.headDec != nil {
		tensor.MatMulDecoded(out, x, m.headDec, nil, N, m.C, m.V)
		return
	}
	tensor.MatMul(out, x, m.head, nil, N, m.C, m.V)
}

// Loss runs the forward pass and returns the summed token loss and the
// number of counted tokens (mean = sum/count), without gradients.
func (m *Model) Loss(b *Batch) (sum float64, count int, err error) {
	if err := m.checkBatch(b); err != nil {
		return 0, 0, err
	}
	m.forwardBody(b)
	return m.lossAndHead(b, false, 1), len(m.lossRows), nil
}

// ForwardBackward runs forward and backward on b and accumulates into
// Grads the gradient of (summed token loss)/norm; pass norm = the number of
// counted tokens over all micro-batches of a step for a token mean. It
// returns the summed loss and the count of this batch.
func (m *Model) ForwardBackward(b *Batch, norm float64) (sum float64, count int, err error) {
	if err := m.checkBatch(b); err != nil {
		return 0, 0, err
	}
	if norm <= 0 {
		norm = float64(b.Count())
	}
	if norm == 0 {
		return 0, 0, nil
	}
	m.forwardBody(b)
	sum = m.lossAndHead(b, true, norm)
	count = len(m.lossRows)
	N, C := b.B*b.T, m.C
	dres := m.scratch.dres[:N*C]
	clear(dres)
	tensor.RMSNormBackward(dres, m.dNormF, m.scratch.dlnf, m.resid[m.L], m.normF, m.rstdf, N, C)
	for l := m.L - 1; l >= 0; l-- {
		if m.GradCheckpoint && l < m.L-1 {
			// The last layer's activations are still in the shared
			// buffers from the forward pass.
			m.layerForward(l, b)
		}
		m.layerBackward(l, b)
	}
	if m.dEmbed != nil {
		tensor.EmbeddingBackward(m.dEmbed, dres, b.Tokens, N, C)
	}
	m.Calls++
	return sum, count, nil
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// TargetsFromLabels converts HF labels (B, T), where labels[t] is the token
// at t itself or -100, into Targets: position t predicts labels[t+1], and
// the last position of each row predicts nothing.
func TargetsFromLabels(labels []int32, B, T int) []int32 {
	out := make([]int32, B*T)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			out[b*T+t] = -100
			if t+1 < T && labels[b*T+t+1] >= 0 {
				out[b*T+t] = labels[b*T+t+1]
			}
		}
	}
	return out
}
