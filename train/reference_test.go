package train

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/safetensors"
)

// The llm.c test_gpt2 pattern: scripts/train_reference.py (PyTorch) reads
// the weights and batch this file writes with -update, and writes logits,
// loss, every gradient and ten AdamW losses; the tests below must match.

var update = flag.Bool("update", false, "rewrite train/testdata reference inputs and the exported adapter")

type refCase struct {
	Mode    string   `json:"mode"`
	Tied    bool     `json:"tied"`
	Targets []string `json:"targets,omitempty"`
	R       int      `json:"r,omitempty"`
	Alpha   float64  `json:"alpha,omitempty"`
	RSLoRA  bool     `json:"rslora,omitempty"`
	Optim   refOptim `json:"optim"`
}

type refOptim struct {
	LR     float64 `json:"lr"`
	Beta1  float64 `json:"beta1"`
	Beta2  float64 `json:"beta2"`
	Eps    float64 `json:"eps"`
	WD     float64 `json:"wd"`
	Clip   float64 `json:"clip"`
	Warmup int     `json:"warmup"`
}

type refSpec struct {
	Config *qwen2.Config      `json:"config"`
	Cases  map[string]refCase `json:"cases"`
	B      int                `json:"B"`
	T      int                `json:"T"`
}

func refConfig() *qwen2.Config {
	cfg, _ := qwen2.Preset("tiny")
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = 96, 32, 48
	cfg.InitializerRange = 0.1
	return &cfg
}

func refSpecDefault() refSpec {
	opt := refOptim{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WD: 0.1, Clip: 1.0, Warmup: 2}
	return refSpec{Config: refConfig(), B: 2, T: 9, Cases: map[string]refCase{
		"full":         {Mode: "full", Optim: opt},
		"lora":         {Mode: "lora", R: 4, Alpha: 8, Targets: ModuleNames[:], Optim: opt},
		"lora_tied_rs": {Mode: "lora", Tied: true, R: 4, Alpha: 6, RSLoRA: true, Targets: []string{"q", "v", "o", "down"}, Optim: opt},
	}}
}

const refDir = "testdata"

func writeRefInputs(t *testing.T) { writeRefInputsAs(t, refSpecDefault(), "") }

// writeRefInputsAs writes ref_inputs{sfx}.json and .safetensors for spec.
func writeRefInputsAs(t *testing.T, spec refSpec, sfx string) {
	t.Helper()
	cfg := spec.Config
	base := RandomBase(cfg, 42)
	lc := LoRAConfig{R: 4, Alpha: 8, Targets: ModuleNames[:]}
	ad := NewAdapterParams(cfg, lc)
	r := rand.New(rand.NewPCG(43, 0))
	for i := range ad.Data {
		ad.Data[i] = float32(0.2 * (r.Float64()*2 - 1))
	}
	w := safetensors.NewWriter(filepath.Join(refDir, "ref_inputs"+sfx+".safetensors"))
	for _, p := range []*ParamSet{base, ad} {
		for _, n := range p.Names {
			if err := w.Add(n, safetensors.F32, p.Shape(n), f32Bytes(p.Get(n))); err != nil {
				t.Fatal(err)
			}
		}
	}
	B, T := spec.B, spec.T
	tokens, labels := make([]byte, 4*B*T), make([]byte, 4*B*T)
	for i := 0; i < B*T; i++ {
		tok := int32(r.IntN(cfg.VocabSize))
		lab := tok
		if i%T < 3 || (i/T == 1 && i%T >= T-2) { // prompt, and padding on row 1
			lab = -100
		}
		binary.LittleEndian.PutUint32(tokens[4*i:], uint32(tok))
		binary.LittleEndian.PutUint32(labels[4*i:], uint32(lab))
	}
	w.Add("tokens", safetensors.I32, []int{B, T}, tokens)
	w.Add("labels", safetensors.I32, []int{B, T}, labels)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := model.WriteJSON(filepath.Join(refDir, "ref_inputs"+sfx+".json"), spec); err != nil {
		t.Fatal(err)
	}
}

type refData struct {
	sfx    string // file suffix: "" for the Qwen2 reference, "_llama", "_qwen3"
	spec   refSpec
	in     map[string][]float32
	ints   map[string][]int32
	golden map[string][]float32
}

func readTensors(t *testing.T, path string) (map[string][]float32, map[string][]int32, map[string][]int) {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatalf("%v (regenerate: see scripts/train_reference.py)", err)
	}
	defer f.Close()
	fl, in, sh := map[string][]float32{}, map[string][]int32{}, map[string][]int{}
	for _, n := range f.Names() {
		tt, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		sh[n] = tt.Shape
		if tt.DType == safetensors.I32 {
			v := make([]int32, len(tt.Data)/4)
			for i := range v {
				v[i] = int32(binary.LittleEndian.Uint32(tt.Data[4*i:]))
			}
			in[n] = v
			continue
		}
		v := make([]float32, len(tt.Data)/4)
		if err := decodeFloat32(v, string(tt.DType), tt.Data); err != nil {
			t.Fatal(err)
		}
		fl[n] = v
	}
	return fl, in, sh
}

func loadRef(t *testing.T) *refData { return loadRefAs(t, "") }

func loadRefAs(t *testing.T, sfx string) *refData {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(refDir, "ref_inputs"+sfx+".json"))
	if err != nil {
		t.Fatal(err)
	}
	d := refData{sfx: sfx}
	if err := json.Unmarshal(b, &d.spec); err != nil {
		t.Fatal(err)
	}
	d.in, d.ints, _ = readTensors(t, filepath.Join(refDir, "ref_inputs"+sfx+".safetensors"))
	d.golden, _, _ = readTensors(t, filepath.Join(refDir, "ref_golden"+sfx+".safetensors"))
	return &d
}

// build makes the case's model from the reference inputs.
func (d *refData) build(t *testing.T, name string) (*Model, *Batch) {
	t.Helper()
	c := d.spec.Cases[name]
	cfg := *d.spec.Config
	cfg.TieWordEmbeddings = c.Tied
	names, shapes := BaseNames(&cfg)
	base := NewParamSet(names, shapes)
	for _, n := range names {
		copy(base.Get(n), d.in[n])
	}
	mode, _ := ParseMode(c.Mode)
	lc := LoRAConfig{R: c.R, Alpha: c.Alpha, RSLoRA: c.RSLoRA, Targets: c.Targets}
	var ad *ParamSet
	if mode == ModeLoRA {
		ad = NewAdapterParams(&cfg, lc)
		for _, n := range ad.Names {
			copy(ad.Get(n), d.in[n])
		}
	}
	m, err := NewModel(&cfg, base, mode, lc, ad, 1)
	if err != nil {
		t.Fatal(err)
	}
	B, T := d.spec.B, d.spec.T
	return m, &Batch{B: B, T: T, Tokens: d.ints["tokens"], Targets: TargetsFromLabels(d.ints["labels"], B, T)}
}

// relErr returns the worst elementwise error of got against want, relative
// to max(|want|, mean |want|), and its index.
func relErr(got, want []float32) (float64, int) {
	var mean float64
	for _, w := range want {
		mean += math.Abs(float64(w))
	}
	mean /= float64(len(want))
	worst, wi := 0.0, 0
	for i := range want {
		e := math.Abs(float64(got[i])-float64(want[i])) / math.Max(math.Abs(float64(want[i])), mean+1e-30)
		if e > worst {
			worst, wi = e, i
		}
	}
	return worst, wi
}

func maxAbsDiff(got, want []float32) (float64, int) {
	worst, wi := 0.0, 0
	for i := range want {
		if e := math.Abs(float64(got[i]) - float64(want[i])); e > worst {
			worst, wi = e, i
		}
	}
	return worst, wi
}

func TestReference(t *testing.T) {
	if *update {
		writeRefInputs(t)
		t.Log("reference inputs written; now run /usr/bin/python3 scripts/train_reference.py")
	}
	d := loadRef(t)
	for name, c := range d.spec.Cases {
		t.Run(name, func(t *testing.T) { checkRefCase(t, d, name, c) })
	}
}

// checkRefCase compares one case's logits, loss, gradients and ten AdamW
// losses with the PyTorch reference.
func checkRefCase(t *testing.T, d *refData, name string, c refCase) {
	t.Helper()
	m, b := d.build(t, name)
	logits, err := m.Logits(b)
	if err != nil {
		t.Fatal(err)
	}
	if e, i := maxAbsDiff(logits, d.golden[name+"/logits"]); e > 1e-4 {
		t.Errorf("logits: max abs diff %.3g at %d (got %v, want %v)", e, i, logits[i], d.golden[name+"/logits"][i])
	}
	sum, count, err := m.ForwardBackward(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, want := sum/float64(count), float64(d.golden[name+"/loss"][0])
	if math.Abs(got-want) > 1e-5 {
		t.Errorf("loss = %.7f, want %.7f", got, want)
	}
	p := m.Trainable()
	worst, worstName := 0.0, ""
	for _, n := range p.Names {
		w, ok := d.golden[name+"/grad/"+n]
		if !ok {
			t.Errorf("no reference gradient for %s", n)
			continue
		}
		g := m.Grads.Get(n)
		e, i := relErr(g, w)
		if e > worst {
			worst, worstName = e, fmt.Sprintf("%s[%d] got %.7g want %.7g", n, i, g[i], w[i])
		}
	}
	t.Logf("%d gradients, worst relative error %.3g at %s", len(p.Names), worst, worstName)
	if worst > 1e-3 {
		t.Errorf("gradient relative error %.3g > 1e-3 at %s", worst, worstName)
	}

	// Ten AdamW steps, cosine schedule with warmup, clipping.
	m, b = d.build(t, name)
	o := c.Optim
	opt := NewAdamW(m.Trainable(), o.Beta1, o.Beta2, o.Eps, o.WD, false)
	sched := Schedule{Kind: "cosine", Peak: o.LR, Warmup: o.Warmup, Total: 10}
	wantL := d.golden[name+"/losses"]
	var gotL []string
	for k := 0; k < 10; k++ {
		res, err := m.TrainStep(opt, []*Batch{b}, o.Clip, sched.LR(k))
		if err != nil {
			t.Fatal(err)
		}
		gotL = append(gotL, fmt.Sprintf("%.6f", res.Loss))
		if math.Abs(res.Loss-float64(wantL[k])) > 1e-4 {
			t.Errorf("step %d loss %.7f, want %.7f", k, res.Loss, wantL[k])
		}
	}
	t.Logf("losses %s", strings.Join(gotL, " "))
	if name == "lora" && d.sfx == "" {
		checkExportedAdapter(t, d, m, b)
	}
}

// checkExportedAdapter: the adapter we export after ten steps, loaded by the
// PyTorch reference, gives our logits; loaded back by LoadAdapter and merged
// into the base, it gives them too.
func checkExportedAdapter(t *testing.T, d *refData, m *Model, b *Batch) {
	t.Helper()
	dir := filepath.Join(refDir, "exported_adapter")
	if *update {
		if err := SaveAdapter(dir, m.LoRA, m.Adapter, "ragtune-tiny-reference"); err != nil {
			t.Fatal(err)
		}
		t.Log("adapter written; now run /usr/bin/python3 scripts/train_reference.py --adapter train/testdata/exported_adapter")
		return
	}
	ad, err := LoadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := NewModel(m.Cfg, m.Base, ModeLoRA, ad.Config, ad.Params, 1)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := m2.Logits(b)
	ref, _, _ := readTensors(t, filepath.Join(refDir, "ref_adapter_logits.safetensors"))
	if e, i := maxAbsDiff(ours, ref["logits"]); e > 1e-4 {
		t.Errorf("exported adapter: PyTorch logits differ by %.3g at %d (ours %v, reference %v)", e, i, ours[i], ref["logits"][i])
	}
	// The committed adapter came from these ten steps (up to float
	// rounding of the code version that wrote it).
	if e, _ := maxAbsDiff(ad.Params.Data, m.Adapter.Data); e > 1e-5 {
		t.Errorf("the committed adapter differs from ten steps trained now by %.3g", e)
	}
	merged := &ParamSet{Names: m.Base.Names, Shapes: m.Base.Shapes, Offsets: m.Base.Offsets, Data: append([]float32(nil), m.Base.Data...), index: m.Base.index}
	if err := ad.MergeInto(merged); err != nil {
		t.Fatal(err)
	}
	mm, err := NewModel(m.Cfg, merged, ModeFull, LoRAConfig{}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	ml, _ := mm.Logits(b)
	if e, i := maxAbsDiff(ml, ref["logits"]); e > 1e-4 {
		t.Errorf("merged weights: logits differ from the reference by %.3g at %d", e, i)
	}
}
