package qwen2

import (
	"fmt"
	"sort"
)

// Presets are the shapes `ragtune model init` can write. The R1-Distill
// shapes follow the published config.json files of DeepSeek-R1-Distill-Qwen;
// "tiny" is small enough for unit tests to run a forward pass in
// milliseconds while still exercising GQA (4 heads over 2 KV heads), q/k/v
// bias and an untied head. VocabSize is replaced by the tokenizer's size
// when a model is initialized with a tokenizer.
var Presets = map[string]Config{
	"tiny": {
		Architectures: []string{"Qwen2ForCausalLM"}, ModelType: "qwen2",
		HiddenSize: 64, IntermediateSize: 160, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 512,
		MaxPositionEmbeddings: 2048, RMSNormEps: 1e-6, RopeTheta: 10000,
		HiddenAct: "silu", TorchDtype: "float32", BOSTokenID: 259, EOSTokenID: 256,
		UseCache: true, InitializerRange: 0.02, MaxWindowLayers: 2, SlidingWindow: 2048,
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
	return c, nil
}
