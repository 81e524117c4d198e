package qwen2

import (
	"fmt"
	"sort"
)

// Presets are the shapes `ragtune model init` can write. The R1-Distill
// shapes follow the published config.json files of DeepSeek-R1-Distill-Qwen
// and -Llama; "tiny" is small enough for unit tests to run a forward pass
// in milliseconds while still exercising GQA (4 heads over 2 KV heads),
// q/k/v bias and an untied head. "tiny-llama" and "tiny-qwen3" (what
// `--preset tiny --arch llama|qwen3` writes) exercise what those families
// add: GQA 3 and 4, Llama 3 RoPE scaling with all three frequency bands
// within a few hundred positions, Qwen3's q/k norms with a head dimension
// that is not hidden/heads, and its tied head. VocabSize is replaced by the
// tokenizer's size when a model is initialized with a tokenizer.
var Presets = map[string]Config{
	"tiny": {
		Architectures: []string{"Qwen2ForCausalLM"}, ModelType: "qwen2",
		HiddenSize: 64, IntermediateSize: 160, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 512,
		MaxPositionEmbeddings: 2048, RMSNormEps: 1e-6, RopeTheta: 10000,
		HiddenAct: "silu", TorchDtype: "float32", BOSTokenID: 259, EOSTokenID: 256,
		UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 2, SlidingWindow: 2048,
	},
	"tiny-llama": {
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: 96, IntermediateSize: 224, NumHiddenLayers: 2,
		NumAttentionHeads: 6, NumKeyValueHeads: 2, VocabSize: 512,
		MaxPositionEmbeddings: 2048, RMSNormEps: 1e-5, RopeTheta: 500000,
		RopeScaling:   &RopeScaling{RopeType: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 512},
		AttentionBias: new(bool),
		HiddenAct:     "silu", TorchDtype: "float32", UseCache: true, InitializerRange: 0.02,
	},
	"tiny-qwen3": {
		Architectures: []string{"Qwen3ForCausalLM"}, ModelType: "qwen3",
		HiddenSize: 96, IntermediateSize: 224, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 1, HeadDim: 32, VocabSize: 512,
		MaxPositionEmbeddings: 2048, RMSNormEps: 1e-6, RopeTheta: 1000000, TieWordEmbeddings: true,
		AttentionBias: new(bool),
		HiddenAct:     "silu", TorchDtype: "float32", UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 2,
	},
	// "tiny-qwen3" with R1-0528-Qwen3's rope_scaling (YaRN, factor 4 over
	// 32768 positions, DeepSeek's attn_factor): with head dimension 32 and
	// θ 10⁶, YaRN keeps frequencies 0-5, divides 10-15 by 4 and blends
	// 6-9, so the goldens see all three bands and the attention factor.
	"tiny-qwen3-yarn": {
		Architectures: []string{"Qwen3ForCausalLM"}, ModelType: "qwen3",
		HiddenSize: 96, IntermediateSize: 224, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 1, HeadDim: 32, VocabSize: 512,
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-6, RopeTheta: 1000000, TieWordEmbeddings: true,
		RopeScaling:   &RopeScaling{RopeType: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32768, AttnFactor: 0.8782488562869419},
		AttentionBias: new(bool),
		HiddenAct:     "silu", TorchDtype: "float32", UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 2,
	},
	// DeepSeek-R1-Distill-Llama-8B is Llama-3.1-8B's shape.
	"r1-distill-llama-8b": {
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: 4096, IntermediateSize: 14336, NumHiddenLayers: 32,
		NumAttentionHeads: 32, NumKeyValueHeads: 8, VocabSize: 128256,
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-5, RopeTheta: 500000,
		RopeScaling:   &RopeScaling{RopeType: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
		AttentionBias: new(bool),
		HiddenAct:     "silu", TorchDtype: "bfloat16", BOSTokenID: 128000, EOSTokenID: 128001,
		UseCache: true, InitializerRange: 0.02,
	},
	// DeepSeek-R1-Distill-Llama-70B is Llama-3.3-70B's shape.
	"r1-distill-llama-70b": {
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama",
		HiddenSize: 8192, IntermediateSize: 28672, NumHiddenLayers: 80,
		NumAttentionHeads: 64, NumKeyValueHeads: 8, VocabSize: 128256,
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-5, RopeTheta: 500000,
		RopeScaling:   &RopeScaling{RopeType: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
		AttentionBias: new(bool),
		HiddenAct:     "silu", TorchDtype: "bfloat16", BOSTokenID: 128000, EOSTokenID: 128001,
		UseCache: true, InitializerRange: 0.02,
	},
	// DeepSeek-R1-0528-Qwen3-8B is Qwen3-8B's shape with the published
	// config's context: 131072 positions by YaRN over Qwen3's 32768.
	// attn_factor is DeepSeek's key, kept as published and not applied:
	// ragtune scales attention as HF transformers does, by YaRN's default
	// 1+0.1·ln 4 (see RopeScaling.AttnFactor).
	"r1-0528-qwen3-8b": {
		Architectures: []string{"Qwen3ForCausalLM"}, ModelType: "qwen3",
		HiddenSize: 4096, IntermediateSize: 12288, NumHiddenLayers: 36,
		NumAttentionHeads: 32, NumKeyValueHeads: 8, HeadDim: 128, VocabSize: 151936,
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-6, RopeTheta: 1000000,
		RopeScaling:   &RopeScaling{RopeType: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32768, AttnFactor: 0.8782488562869419},
		AttentionBias: new(bool),
		HiddenAct:     "silu", TorchDtype: "bfloat16", BOSTokenID: 151643, EOSTokenID: 151645,
		UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 36,
	},
	"r1-distill-qwen-1.5b": {
		Architectures: []string{"Qwen2ForCausalLM"}, ModelType: "qwen2",
		HiddenSize: 1536, IntermediateSize: 8960, NumHiddenLayers: 28,
		NumAttentionHeads: 12, NumKeyValueHeads: 2, VocabSize: 151936,
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-6, RopeTheta: 10000,
		HiddenAct: "silu", TorchDtype: "bfloat16", BOSTokenID: 151646, EOSTokenID: 151643,
		UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 21, SlidingWindow: 4096,
	},
	"r1-distill-qwen-7b": {
		Architectures: []string{"Qwen2ForCausalLM"}, ModelType: "qwen2",
		HiddenSize: 3584, IntermediateSize: 18944, NumHiddenLayers: 28,
		NumAttentionHeads: 28, NumKeyValueHeads: 4, VocabSize: 152064,
		MaxPositionEmbeddings: 131072, RMSNormEps: 1e-6, RopeTheta: 10000,
		HiddenAct: "silu", TorchDtype: "bfloat16", BOSTokenID: 151646, EOSTokenID: 151643,
		UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 28, SlidingWindow: 4096,
	},
}

// PresetFor returns the preset for an architecture: "tiny" with arch
// "llama" is "tiny-llama"; any other name must be of that architecture.
// An empty arch takes the preset as named.
func PresetFor(name, arch string) (Config, error) {
	if arch != "" {
		if _, err := FamilyOf(arch); err != nil {
			return Config{}, err
		}
		if name == "tiny" && arch != "qwen2" {
			name = "tiny-" + arch
		}
	}
	c, err := Preset(name)
	if err != nil {
		return c, err
	}
	if arch != "" && c.ModelType != arch {
		return Config{}, fmt.Errorf("preset %q is a %s model, not %s (choose a %s preset or drop --arch)", name, c.ModelType, arch, arch)
	}
	return c, nil
}

// Preset returns a copy of the named preset.
func Preset(name string) (Config, error) {
	c, ok := Presets[name]
	if !ok {
		names := make([]string, 0, len(Presets))
		for n := range Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return Config{}, fmt.Errorf("unknown preset %q (choose one of %v)", name, names)
	}
	c.Architectures = append([]string(nil), c.Architectures...)
	if c.RopeScaling != nil {
		r := *c.RopeScaling
		if r.Truncate != nil {
			t := *r.Truncate
			r.Truncate = &t
		}
		c.RopeScaling = &r
	}
	if c.AttentionBias != nil {
		b := *c.AttentionBias
		c.AttentionBias = &b
	}
	return c, nil
}
