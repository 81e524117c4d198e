package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/weights"
)

// paramSource serves a ParamSet as a weights.Source of F32 tensors.
type paramSource struct{ p *ParamSet }

// SourceOf exposes p (HF names) as a weights.Source, so trained
// weights can go wherever a loaded model can (qwen2.SaveHF, qwen2.Load).
func SourceOf(p *ParamSet) weights.Source { return paramSource{p} }

func (s paramSource) Tensor(name string) (*weights.Tensor, error) {
	v := s.p.Get(name)
	if v == nil {
		return nil, fmt.Errorf("%q: %w", name, weights.ErrNotFound)
	}
	return &weights.Tensor{Name: name, DType: weights.F32, Shape: s.p.Shape(name), Data: f32Bytes(v)}, nil
}

func (s paramSource) Names() []string {
	n := append([]string(nil), s.p.Names...)
	sort.Strings(n)
	return n
}

func (s paramSource) Close() error { return nil }

// mergedSource returns src's tensors with an adapter merged into the
// targeted weights as they are read.
type mergedSource struct {
	src weights.Source
	ad  *Adapter
}

// ApplyAdapter loads the PEFT LoRA adapter in adapterDir and returns src
// with W + scale·B·A in place of every targeted weight (as F32), merged
// when the tensor is read, so any loader honours an adapter without knowing
// about LoRA. It checks every targeted weight's shape up front. Closing the
// result closes src.
func ApplyAdapter(src weights.Source, adapterDir string) (weights.Source, error) {
	ad, err := LoadAdapter(adapterDir)
	if err != nil {
		return nil, err
	}
	for _, n := range ad.Params.Names {
		stem, ok := strings.CutSuffix(n, ".lora_A.weight")
		if !ok {
			continue
		}
		wname := strings.TrimPrefix(stem, PEFTPrefix) + ".weight"
		t, err := src.Tensor(wname)
		if err != nil {
			return nil, fmt.Errorf("apply adapter %q: %w", adapterDir, err)
		}
		as, bs := ad.Params.Shape(n), ad.Params.Shape(stem+".lora_B.weight")
		if bs == nil || len(t.Shape) != 2 || as[1] != t.Shape[1] || bs[0] != t.Shape[0] || as[0] != bs[1] {
			return nil, fmt.Errorf("apply adapter %q: %s (A %v, B %v) does not fit %s %v: the adapter was trained on a different model", adapterDir, stem, as, bs, wname, t.Shape)
		}
	}
	return &mergedSource{src: src, ad: ad}, nil
}

func (m *mergedSource) Tensor(name string) (*weights.Tensor, error) {
	t, err := m.src.Tensor(name)
	if err != nil {
		return nil, err
	}
	stem, ok := strings.CutSuffix(name, ".weight")
	if !ok || !m.ad.Params.Has(PEFTPrefix+stem+".lora_A.weight") {
		return t, nil
	}
	w, err := quant.Float32(t)
	if err != nil {
		return nil, fmt.Errorf("merge adapter into %s: %w", name, err)
	}
	one := NewParamSet([]string{name}, [][]int{t.Shape})
	copy(one.Data, w)
	sub := &Adapter{Config: m.ad.Config, Params: NewParamSet(
		[]string{PEFTPrefix + stem + ".lora_A.weight", PEFTPrefix + stem + ".lora_B.weight"},
		[][]int{m.ad.Params.Shape(PEFTPrefix + stem + ".lora_A.weight"), m.ad.Params.Shape(PEFTPrefix + stem + ".lora_B.weight")})}
	copy(sub.Params.Get(sub.Params.Names[0]), m.ad.Params.Get(sub.Params.Names[0]))
	copy(sub.Params.Get(sub.Params.Names[1]), m.ad.Params.Get(sub.Params.Names[1]))
	if err := sub.MergeInto(one); err != nil {
		return nil, err
	}
	return &weights.Tensor{Name: name, DType: weights.F32, Shape: t.Shape, Data: f32Bytes(one.Data)}, nil
}

func (m *mergedSource) Names() []string { return m.src.Names() }
func (m *mergedSource) Close() error    { return m.src.Close() }

// OpenWithAdapter opens a model as qwen2.Open does and, when adapterDir is
// not empty, merges the PEFT LoRA adapter there into it (ApplyAdapter).
// It is how the commands and eval run a fine-tuned model: the result goes
// to llm.LoadLocalFrom, so package llm needs no knowledge of adapters.
func OpenWithAdapter(path, adapterDir string) (weights.Source, *qwen2.Config, error) {
	src, cfg, err := qwen2.Open(path)
	if err != nil || adapterDir == "" {
		return src, cfg, err
	}
	merged, err := ApplyAdapter(src, adapterDir)
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return merged, cfg, nil
}

// tokenizerFiles are copied next to merged or fully trained weights so the
// output directory is a complete model.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"}

// CopyTokenizerFiles copies the tokenizer and generation files present in
// from into to.
func CopyTokenizerFiles(from, to string) error {
	if st, err := os.Stat(from); err != nil || !st.IsDir() {
		return nil // a GGUF file: its tokenizer lives inside it
	}
	for _, f := range tokenizerFiles {
		src, err := os.Open(filepath.Join(from, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", f, err)
		}
		b, err := io.ReadAll(src)
		src.Close()
		if err != nil {
			return fmt.Errorf("copy %s: %w", f, err)
		}
		if err := model.WriteFileAtomic(filepath.Join(to, f), b); err != nil {
			return fmt.Errorf("copy %s: %w", f, err)
		}
	}
	return nil
}

// MergeLoRA writes modelPath with the adapter in adapterDir merged in as an
// HF model directory at outDir, in the base model's dtype (torch_dtype),
// with its tokenizer files.
func MergeLoRA(modelPath, adapterDir, outDir string, progress func(done, total int64)) error {
	ms, cfg, err := OpenWithAdapter(modelPath, adapterDir)
	if err != nil {
		return err
	}
	defer ms.Close()
	opts := qwen2.SaveOptions{DType: qwen2.KeepDType, Progress: progress}
	if cfg.TorchDtype == "" {
		opts.DType = weights.F32
	}
	if err := qwen2.SaveHF(outDir, ms, *cfg, opts); err != nil {
		return err
	}
	return CopyTokenizerFiles(modelPath, outDir)
}
