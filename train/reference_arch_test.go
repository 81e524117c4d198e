package train

import (
	"flag"
	"strings"
	"testing"

	"ragtune/llm/chat"
	"ragtune/model/qwen2"
)

var updateArchs = flag.Bool("update-archs", false, "rewrite train/testdata/ref_inputs_{llama,qwen3,qwen3-yarn}.* (then run scripts/train_reference.py --arch A)")

// refArchs are the reference setups beside Qwen2's: a family name, or
// "qwen3-yarn" for Qwen3 with R1-0528-Qwen3's YaRN rope_scaling.
var refArchs = []string{"llama", "qwen3", "qwen3-yarn"}

// refSpecArch is the reference setup for a family other than Qwen2, at
// odd sizes: Llama 3 with its RoPE scaling (hidden 36, 6 heads of 6 over 2
// KV heads, MLP 52, untied), Qwen3 with q/k norms (hidden 30, 3 heads of 8
// over 1 KV head so q is 24 wide, MLP 44, tied), and that Qwen3 with the
// preset tiny-qwen3-yarn's YaRN (factor 4, DeepSeek's attn_factor, which
// HF ignores) on heads of 16.
func refSpecArch(arch string) refSpec {
	var cfg qwen2.Config
	var err error
	if arch == "qwen3-yarn" {
		cfg, err = qwen2.Preset("tiny-qwen3-yarn")
	} else {
		cfg, err = qwen2.PresetFor("tiny", arch)
	}
	if err != nil {
		panic(err)
	}
	cfg.VocabSize, cfg.InitializerRange = 96, 0.1
	tied := false
	switch arch {
	case "llama":
		cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads = 36, 52, 6, 2
		// Positions reach 9: an original context of 16 puts the frequencies
		// in all three bands of the scaling.
		cfg.RopeScaling.OriginalMaxPositionEmbeddings = 16
		cfg.RopeTheta = 10000
	case "qwen3":
		cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim = 30, 44, 3, 1, 8
		tied = true
	case "qwen3-yarn":
		cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim = 30, 44, 3, 1, 16
		// With 8 frequencies, θ 1000 and an original context of 512, the
		// frequencies turning more than 32 times (indices 0-1) are kept,
		// those turning less than once (6-7) divided by 4, and 2-5 blended,
		// and at positions 0-8 each band turns the vectors visibly. The
		// context is original × factor, so HF releases that take the factor
		// from max/original agree with those that read it.
		cfg.RopeTheta = 1000
		cfg.RopeScaling.OriginalMaxPositionEmbeddings = 512
		cfg.MaxPositionEmbeddings = 2048
		tied = true
	}
	opt := refOptim{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WD: 0.1, Clip: 1.0, Warmup: 2}
	return refSpec{Config: &cfg, B: 2, T: 9, Cases: map[string]refCase{
		"full": {Mode: "full", Tied: tied, Optim: opt},
		"lora": {Mode: "lora", Tied: tied, R: 4, Alpha: 8, Targets: ModuleNames[:], Optim: opt},
	}}
}

// TestReferenceArchs is TestReference for Llama 3, Qwen3 and Qwen3 with
// YaRN: logits, loss, every gradient (q_norm/k_norm included, and through
// YaRN's scaled frequencies and its attention factor on cos and sin) and
// ten AdamW losses against scripts/train_reference.py --arch A, for full
// training and LoRA.
func TestReferenceArchs(t *testing.T) {
	for _, arch := range refArchs {
		t.Run(arch, func(t *testing.T) {
			sfx := "_" + arch
			if *updateArchs {
				writeRefInputsAs(t, refSpecArch(arch), sfx)
				t.Logf("reference inputs written; now run /usr/bin/python3 scripts/train_reference.py --arch %s", arch)
			}
			d := loadRefAs(t, sfx)
			if strings.HasPrefix(arch, "qwen3") && d.golden["full/grad/model.layers.0.self_attn.q_norm.weight"] == nil {
				t.Fatal("the reference has no q_norm gradient")
			}
			for name, c := range d.spec.Cases {
				t.Run(name, func(t *testing.T) { checkRefCase(t, d, name, c) })
			}
		})
	}
}

// A Qwen3 model's chat template (ChatML with <think>) exports as
// LLaMA-Factory's qwen3 template, R1-Distill-Llama's (R1's) as deepseekr1.
func TestTemplateToLlamaFactoryArchs(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{chat.Qwen3Template, "qwen3"},
		{chat.QwenTemplate, "qwen"},
		{chat.R1Template, "deepseekr1"},
	} {
		got, err := templateToLlamaFactory("", c.tmpl)
		if err != nil || got != c.want {
			t.Errorf("templateToLlamaFactory = %q, %v; want %q", got, err, c.want)
		}
	}
}
