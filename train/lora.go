package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/safetensors"
	"ragtune/tensor"
)

// PEFTPrefix starts every tensor name in a PEFT adapter of a causal LM:
// PEFT wraps the HF model (base_model.model) whose own root is "model.".
const PEFTPrefix = "base_model.model."

// LoRAConfig is a LoRA adapter's hyperparameters.
type LoRAConfig struct {
	R       int
	Alpha   float64
	Dropout float64
	// Targets are short module names (q, k, v, o, gate, up, down).
	Targets []string
	// RSLoRA scales by alpha/sqrt(r) instead of alpha/r.
	RSLoRA bool
}

// DefaultLoRA is r=16, alpha=16, dropout 0.05 on all seven projections.
func DefaultLoRA() LoRAConfig {
	return LoRAConfig{R: 16, Alpha: 16, Dropout: 0.05, Targets: ModuleNames[:]}
}

// Scale is the factor on the low-rank update (PEFT's "scaling").
func (c LoRAConfig) Scale() float32 {
	if c.RSLoRA {
		return float32(c.Alpha / math.Sqrt(float64(c.R)))
	}
	return float32(c.Alpha / float64(c.R))
}

// Validate checks rank, dropout and target names.
func (c LoRAConfig) Validate() error {
	if c.R <= 0 {
		return fmt.Errorf("LoRA rank must be > 0 (got %d)", c.R)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("LoRA dropout must be in [0, 1) (got %g)", c.Dropout)
	}
	if len(c.Targets) == 0 {
		return errors.New("LoRA needs at least one target module (e.g. --target q,v)")
	}
	for _, t := range c.Targets {
		if moduleIndex(t) < 0 {
			return fmt.Errorf("unknown LoRA target %q (choose from %s)", t, strings.Join(ModuleNames[:], ","))
		}
	}
	return nil
}

// moduleIndex maps "q" or "q_proj" to its module index, or -1.
func moduleIndex(name string) int {
	name = strings.TrimSuffix(name, "_proj")
	for i, n := range ModuleNames {
		if n == name {
			return i
		}
	}
	return -1
}

func (c LoRAConfig) targets(mi int) bool {
	for _, t := range c.Targets {
		if moduleIndex(t) == mi {
			return true
		}
	}
	return false
}

// moduleDims returns (in, out) of module mi: its weight's shape in the
// family's tensor table, transposed.
func moduleDims(cfg *qwen2.Config, mi int) (int, int) {
	name := hfModuleName(mi) + ".weight"
	for _, s := range qwen2.LayerTensors(cfg) {
		if s.Name == name {
			return s.Shape[1], s.Shape[0]
		}
	}
	panic("train: no " + name + " in qwen2's tensor table")
}

// NewAdapterParams allocates zeroed LoRA matrices under their PEFT names:
// lora_A (r, in) and lora_B (out, r) per targeted module of every layer.
func NewAdapterParams(cfg *qwen2.Config, c LoRAConfig) *ParamSet {
	var names []string
	var shapes [][]int
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		for mi := range numModules {
			if !c.targets(mi) {
				continue
			}
			in, out := moduleDims(cfg, mi)
			n := fmt.Sprintf("%smodel.layers.%d.%s", PEFTPrefix, l, hfModuleName(mi))
			names = append(names, n+".lora_A.weight", n+".lora_B.weight")
			shapes = append(shapes, []int{c.R, in}, []int{out, c.R})
		}
	}
	return NewParamSet(names, shapes)
}

// initLoRA sets every lora_A to PEFT's default, kaiming_uniform_ with
// a=sqrt(5), which is U(-1/sqrt(in), 1/sqrt(in)), and every lora_B to
// zero, so training starts from the base model's exact outputs.
func initLoRA(p *ParamSet, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x10ca))
	for i, n := range p.Names {
		v := p.Data[p.Offsets[i] : p.Offsets[i]+numel(p.Shapes[i])]
		if strings.HasSuffix(n, ".lora_B.weight") {
			clear(v)
			continue
		}
		bound := 1 / math.Sqrt(float64(p.Shapes[i][1]))
		for j := range v {
			v[j] = float32((r.Float64()*2 - 1) * bound)
		}
	}
}

// peftConfig is the subset of adapter_config.json we write and read.
type peftConfig struct {
	PeftType            string   `json:"peft_type"`
	TaskType            string   `json:"task_type"`
	BaseModelNameOrPath string   `json:"base_model_name_or_path"`
	R                   int      `json:"r"`
	LoraAlpha           float64  `json:"lora_alpha"`
	LoraDropout         float64  `json:"lora_dropout"`
	TargetModules       any      `json:"target_modules"`
	UseRSLoRA           bool     `json:"use_rslora"`
	Bias                string   `json:"bias"`
	FanInFanOut         bool     `json:"fan_in_fan_out"`
	InferenceMode       bool     `json:"inference_mode"`
	InitLoraWeights     bool     `json:"init_lora_weights"`
	ModulesToSave       []string `json:"modules_to_save"`
	RankPattern         any      `json:"rank_pattern,omitempty"`
	AlphaPattern        any      `json:"alpha_pattern,omitempty"`
	LayersToTransform   any      `json:"layers_to_transform,omitempty"`
	UseDora             bool     `json:"use_dora"`
	Revision            *string  `json:"revision"`
}

// SaveAdapter writes a PEFT LoRA adapter to dir: adapter_config.json and
// adapter_model.safetensors (F32), loadable by PEFT's
// PeftModel.from_pretrained and by LoadAdapter.
func SaveAdapter(dir string, c LoRAConfig, p *ParamSet, baseModel string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	targets := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		targets[i] = strings.TrimSuffix(t, "_proj") + "_proj"
	}
	pc := peftConfig{
		PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModelNameOrPath: baseModel,
		R: c.R, LoraAlpha: c.Alpha, LoraDropout: c.Dropout, TargetModules: targets,
		UseRSLoRA: c.RSLoRA, Bias: "none", InferenceMode: true, InitLoraWeights: true,
	}
	if err := model.WriteJSON(filepath.Join(dir, "adapter_config.json"), pc); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	if err := writeParams(filepath.Join(dir, "adapter_model.safetensors"), p, nil); err != nil {
		return fmt.Errorf("save adapter: %w", err)
	}
	return nil
}

// writeParams writes every tensor of p as F32 (names mapped by rename when
// non-nil; an empty result skips the tensor).
func writeParams(path string, p *ParamSet, rename func(string) string) error {
	w := safetensors.NewWriter(path)
	for i, n := range p.Names {
		if rename != nil {
			if n = rename(n); n == "" {
				continue
			}
		}
		v := p.Data[p.Offsets[i] : p.Offsets[i]+numel(p.Shapes[i])]
		if err := w.Add(n, safetensors.F32, p.Shapes[i], f32Bytes(v)); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}

func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeFloat32 converts raw little-endian tensor bytes to float32.
func decodeFloat32(dst []float32, dtype string, data []byte) error {
	switch dtype {
	case "F32":
		if len(data) != 4*len(dst) {
			return fmt.Errorf("%d bytes for %d F32 values", len(data), len(dst))
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case "BF16", "F16":
		if len(data) != 2*len(dst) {
			return fmt.Errorf("%d bytes for %d %s values", len(data), len(dst), dtype)
		}
		for i := range dst {
			h := binary.LittleEndian.Uint16(data[2*i:])
			if dtype == "BF16" {
				dst[i] = math.Float32frombits(uint32(h) << 16)
			} else {
				dst[i] = tensor.HalfToFloat(h)
			}
		}
	default:
		return fmt.Errorf("dtype %s is not supported for training (use F32, F16 or BF16 weights)", dtype)
	}
	return nil
}

// Adapter is a loaded LoRA adapter: its config and A/B matrices by PEFT
// name.
type Adapter struct {
	Config LoRAConfig
	Base   string
	Params *ParamSet
}

var peftModuleRe = regexp.MustCompile(`^` + regexp.QuoteMeta(PEFTPrefix) + `model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)_proj\.lora_([AB])(?:\.default)?\.weight$`)

// LoadAdapter reads a PEFT LoRA adapter directory (ours or one trained
// with PEFT on the same architecture). Tensor names may carry PEFT's
// ".default" adapter name; they are normalized away.
func LoadAdapter(dir string) (*Adapter, error) {
	b, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return nil, fmt.Errorf("load adapter: %w (is %q a PEFT adapter directory?)", err, dir)
	}
	var pc peftConfig
	if err := json.Unmarshal(b, &pc); err != nil {
		return nil, fmt.Errorf("load adapter %q: parse adapter_config.json: %w", dir, err)
	}
	if pc.PeftType != "LORA" {
		return nil, fmt.Errorf("load adapter %q: peft_type %q is not supported (only LORA)", dir, pc.PeftType)
	}
	if pc.UseDora {
		return nil, fmt.Errorf("load adapter %q: DoRA adapters are not supported", dir)
	}
	c := LoRAConfig{R: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, RSLoRA: pc.UseRSLoRA}
	switch t := pc.TargetModules.(type) {
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				c.Targets = append(c.Targets, s)
			}
		}
	case string:
		// A regex target: the tensors present decide.
	}
	path := filepath.Join(dir, "adapter_model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load adapter %q: %w", dir, err)
	}
	defer f.Close()
	type ent struct {
		name  string
		shape []int
		data  []byte
		dtype string
	}
	var ents []ent
	seen := map[string]bool{}
	for _, n := range f.Names() {
		mt := peftModuleRe.FindStringSubmatch(n)
		if mt == nil {
			return nil, fmt.Errorf("load adapter %q: unexpected tensor %q (only LoRA A/B on q,k,v,o,gate,up,down are supported)", dir, n)
		}
		if moduleIndex(mt[3]) < 0 {
			return nil, fmt.Errorf("load adapter %q: tensor %q targets an unsupported module", dir, n)
		}
		seen[mt[3]] = true
		t, err := f.Tensor(n)
		if err != nil {
			return nil, fmt.Errorf("load adapter %q: %w", dir, err)
		}
		norm := fmt.Sprintf("%smodel.layers.%s.%s.%s_proj.lora_%s.weight", PEFTPrefix, mt[1], mt[2], mt[3], mt[4])
		ents = append(ents, ent{norm, t.Shape, t.Data, string(t.DType)})
	}
	if len(c.Targets) == 0 {
		for _, mn := range ModuleNames {
			if seen[mn] {
				c.Targets = append(c.Targets, mn)
			}
		}
	}
	for i, t := range c.Targets {
		c.Targets[i] = strings.TrimSuffix(t, "_proj")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("load adapter %q: %w", dir, err)
	}
	// Order tensors as NewAdapterParams does: by layer, then module, A
	// before B.
	key := func(n string) (int, int, string) {
		mt := peftModuleRe.FindStringSubmatch(n)
		l, _ := strconv.Atoi(mt[1])
		return l, moduleIndex(mt[3]), mt[4]
	}
	slices.SortFunc(ents, func(a, b ent) int {
		la, ma, xa := key(a.name)
		lb, mb, xb := key(b.name)
		if la != lb {
			return la - lb
		}
		if ma != mb {
			return ma - mb
		}
		return strings.Compare(xa, xb)
	})
	names := make([]string, len(ents))
	shapes := make([][]int, len(ents))
	for i, e := range ents {
		names[i], shapes[i] = e.name, e.shape
	}
	p := NewParamSet(names, shapes)
	for _, e := range ents {
		if err := decodeFloat32(p.Get(e.name), e.dtype, e.data); err != nil {
			return nil, fmt.Errorf("load adapter %q: tensor %s: %w", dir, e.name, err)
		}
	}
	return &Adapter{Config: c, Base: pc.BaseModelNameOrPath, Params: p}, nil
}

// MergeInto adds scale · B @ A to each targeted base weight (HF names) in
// base, in place. It checks every shape first, so a mismatched adapter
// changes nothing.
func (a *Adapter) MergeInto(base *ParamSet) error {
	type pair struct {
		w, A, B []float32
		out, in int
	}
	var pairs []pair
	for _, n := range a.Params.Names {
		if !strings.HasSuffix(n, ".lora_A.weight") {
			continue
		}
		stem := strings.TrimSuffix(n, ".lora_A.weight")
		wname := strings.TrimPrefix(stem, PEFTPrefix) + ".weight"
		w := base.Get(wname)
		if w == nil {
			return fmt.Errorf("merge adapter: base model has no %s (adapter for a different architecture?)", wname)
		}
		bname := stem + ".lora_B.weight"
		if !a.Params.Has(bname) {
			return fmt.Errorf("merge adapter: %s has no matching %s", n, bname)
		}
		as, bs, ws := a.Params.Shape(n), a.Params.Shape(bname), base.Shape(wname)
		if len(as) != 2 || len(bs) != 2 || as[0] != bs[1] || bs[0] != ws[0] || as[1] != ws[1] {
			return fmt.Errorf("merge adapter: %s A %v / B %v do not fit weight %v", stem, as, bs, ws)
		}
		pairs = append(pairs, pair{w, a.Params.Get(n), a.Params.Get(bname), ws[0], ws[1]})
	}
	sc := a.Config.Scale()
	for _, p := range pairs {
		r := len(p.A) / p.in
		tensor.ParallelFor(p.out, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row := p.w[o*p.in : o*p.in+p.in]
				for k := 0; k < r; k++ {
					tensor.Axpy(row, p.A[k*p.in:k*p.in+p.in], sc*p.B[o*r+k])
				}
			}
		})
	}
	return nil
}
