package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/safetensors"
	"ragtune/tensor"
)

// TestLoadForeignAdapter loads an adapter as other PEFT versions write
// them: BF16 tensors, ".default" in names, target_modules as a regex
// string, extra config keys — and refuses what we cannot apply.
func TestLoadForeignAdapter(t *testing.T) {
	cfg := tinyConfig(t)
	dir := t.TempDir()
	cfgJSON := `{"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 4, "lora_dropout": 0.1,
 "target_modules": ".*(q_proj|v_proj)", "use_rslora": false, "bias": "none", "megatron_config": null, "loftq_config": {}}`
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	w := safetensors.NewWriter(filepath.Join(dir, "adapter_model.safetensors"))
	bf := func(n int, v float32) []byte {
		f := make([]float32, n)
		for i := range f {
			f[i] = v * float32(i%5)
		}
		h := make([]uint16, n)
		tensor.F32ToBF16(h, f)
		b := make([]byte, 2*n)
		for i, x := range h {
			b[2*i], b[2*i+1] = byte(x), byte(x>>8)
		}
		return b
	}
	C := cfg.HiddenSize
	kv := cfg.NumKeyValueHeads * cfg.HeadDimension()
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		p := PEFTPrefix + "model.layers." + string(rune('0'+l)) + ".self_attn."
		w.Add(p+"q_proj.lora_A.default.weight", safetensors.BF16, []int{2, C}, bf(2*C, 0.5))
		w.Add(p+"q_proj.lora_B.default.weight", safetensors.BF16, []int{C, 2}, bf(2*C, 0.25))
		w.Add(p+"v_proj.lora_A.weight", safetensors.BF16, []int{2, C}, bf(2*C, 0.5))
		w.Add(p+"v_proj.lora_B.weight", safetensors.BF16, []int{kv, 2}, bf(2*kv, 0.25))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ad, err := LoadAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ad.Config.Targets, ","), "q,v"; got != want {
		t.Errorf("targets %q, want %q", got, want)
	}
	if got, want := ad.Params.Get(PEFTPrefix + "model.layers.1.self_attn.q_proj.lora_A.weight")[3], float32(1.5); got != want {
		t.Errorf("decoded A value %v, want %v", got, want)
	}
	if _, err := NewModel(cfg, RandomBase(cfg, 1), ModeLoRA, ad.Config, ad.Params, 1); err != nil {
		t.Errorf("adapter does not fit the model it was written for: %v", err)
	}

	// DoRA and unknown tensors are refused with a reason.
	os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(strings.Replace(cfgJSON, `"bias"`, `"use_dora": true, "bias"`, 1)), 0o644)
	if _, err := LoadAdapter(dir); err == nil || !strings.Contains(err.Error(), "DoRA") {
		t.Errorf("DoRA adapter: error %v", err)
	}
	if _, err := LoadAdapter(t.TempDir()); err == nil || !strings.Contains(err.Error(), "PEFT adapter directory") {
		t.Errorf("empty directory: error %v", err)
	}
}
