package qwen2

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"ragtune/model"
	"ragtune/safetensors"
	"ragtune/weights"
)

// SaveOptions tunes SaveHF.
type SaveOptions struct {
	// DType for every tensor: F32 (the zero value), F16, BF16, or
	// KeepDType for cfg.TorchDtype. Quantized sources (a Q8_0 GGUF) are
	// expanded by package quant.
	DType weights.DType
	// Progress reports weight bytes written and the total.
	Progress func(done, total int64)
}

// KeepDType as SaveOptions.DType converts every tensor to cfg.TorchDtype.
const KeepDType weights.DType = 1<<32 - 1

// SaveHF writes src as an HF model directory: config.json,
// generation_config.json and model.safetensors holding every tensor the
// config implies, converted to the requested float dtype one chunk of
// rows at a time. The tokenizer files are the caller's business.
func SaveHF(dir string, src weights.Source, cfg Config, opts SaveOptions) error {
	if err := cfg.CheckArchitecture(); err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	target := opts.DType
	if target == KeepDType {
		var err error
		if target, err = weights.FromTorchDtype(cfg.TorchDtype); err != nil {
			return fmt.Errorf("save model %q: %w", dir, err)
		}
	}
	stType, err := safetensors.FromWeightsDType(target)
	if err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	cfg.TorchDtype = target.TorchDtype()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	w := safetensors.NewWriter(filepath.Join(dir, "model.safetensors"))
	w.Progress = opts.Progress
	for _, s := range Tensors(&cfg) {
		t, err := src.Tensor(s.Name)
		if err != nil {
			return fmt.Errorf("save model %q: %w", dir, err)
		}
		if !slices.Equal(t.Shape, s.Shape) {
			return fmt.Errorf("save model %q: tensor %q has shape %v, config implies %v", dir, s.Name, t.Shape, s.Shape)
		}
		fill := func(out io.Writer) error {
			return writeAsInSlabs(out, src, t, target, quantSlabBytes)
		}
		if err := w.AddFunc(s.Name, stType, s.Shape, fill, -1); err != nil {
			return fmt.Errorf("save model %q: %w", dir, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	if err := cfg.Save(dir); err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	gen := model.GenerationConfig{BOSTokenID: cfg.BOSTokenID, EOSTokenID: cfg.EOSTokenID, DoSample: true, Temperature: 0.6, TopP: 0.95}
	if err := model.WriteJSON(filepath.Join(dir, "generation_config.json"), gen); err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	return nil
}
