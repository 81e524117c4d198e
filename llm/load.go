package llm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ragtune/gguf"
	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/tokenizer"
	"ragtune/weights"
)

// LoadOptions configure LoadLocal.
type LoadOptions struct {
	LocalOptions
	// Model options passed to qwen2 (weight format, prefill chunk). Q8_0
	// and Q4_0 weights run in place unless an option overrides the
	// matrix loader.
	Qwen2 []qwen2.Option
	// KVType is each sequence's KV cache element type: "f32" or "f16";
	// "" means DefaultKVType.
	KVType string
}

// DefaultKVType is the KV cache type engines use unless told otherwise.
// f16 halves the cache (28 KiB instead of 56 KiB per token of context for
// the 1.5B model) and the bytes decode streams per token, which is where
// long-context decode spends its time; the speed and perplexity figures
// are in docs/BENCHMARKS.md.
var DefaultKVType = tensor.KVF16

// LoadLocal opens a model for generation: an HF directory (config.json,
// safetensors, tokenizer.json, tokenizer_config.json with the chat
// template, generation_config.json), or a GGUF file carrying its
// vocabulary and chat template. Sampling defaults and EOS ids come from
// generation_config.json unless opts sets them.
func LoadLocal(path string, opts LoadOptions) (*Local, error) {
	return loadLocal(path, nil, nil, opts)
}

// LoadLocalFrom is LoadLocal over weights the caller already holds: src
// with its config, for example a base model with a LoRA adapter merged in
// as it is read (train.OpenWithAdapter), while the tokenizer, chat template
// and generation config still come from path. The engine owns src: Close
// closes it, and so does LoadLocalFrom when it fails.
func LoadLocalFrom(path string, src weights.Source, cfg *qwen2.Config, opts LoadOptions) (*Local, error) {
	if src == nil || cfg == nil {
		return nil, fmt.Errorf("load %q: no weights given", path)
	}
	return loadLocal(path, src, cfg, opts)
}

// loadLocal opens path's weights itself when src is nil. A given src is
// closed here on errors before qwen2.New, which owns it from then on.
func loadLocal(path string, src weights.Source, cfg *qwen2.Config, opts LoadOptions) (*Local, error) {
	v, err := loadVocab(path)
	if err != nil {
		if src != nil {
			src.Close()
		}
		return nil, err
	}
	if src == nil {
		if src, cfg, err = qwen2.Open(path); err != nil {
			return nil, err
		}
	}
	kvType := DefaultKVType
	if opts.KVType != "" {
		if kvType, err = tensor.ParseKVType(opts.KVType); err != nil {
			if src != nil {
				src.Close()
			}
			return nil, fmt.Errorf("load %q: %w", path, err)
		}
	}
	qopts := append([]qwen2.Option{qwen2.WithMatrixLoader(quant.Loader(qwen2.DefaultMatrix))}, opts.Qwen2...)
	m, err := qwen2.New(cfg, src, qopts...)
	if err != nil {
		return nil, fmt.Errorf("load %q: %w", path, err)
	}
	lo := opts.LocalOptions
	if v.gen != nil {
		if lo.Sampling == nil {
			s := samplingFromGeneration(v.gen)
			lo.Sampling = &s
		}
		lo.EOS = append(lo.EOS, v.gen.EOSTokenIDs()...)
	}
	if lo.Sampling == nil {
		lo.Sampling = &Sampling{Seed: -1}
	}
	l, err := NewLocal(qwen2Model{m, kvType}, v.tok, v.tmpl, lo)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load %q: %w", path, err)
	}
	l.tmplErr = v.tmplErr
	return l, nil
}

// vocab is what LoadLocal takes from the model path besides the weights.
type vocab struct {
	tok     *tokenizer.BPE
	tmpl    Template
	tmplErr error                   // why tmpl is nil, for the first chat request
	gen     *model.GenerationConfig // nil for a GGUF file or when absent
}

func loadVocab(path string) (vocab, error) {
	var v vocab
	st, err := os.Stat(path)
	if err != nil {
		return v, fmt.Errorf("load model: %w (pass an HF model directory or a .gguf file; 'ragtune model init' makes a test model)", err)
	}
	if !st.IsDir() && isGGUF(path) {
		v.tok, v.tmpl, err = ggufTokenizer(path)
		if err == nil && v.tmpl == nil {
			v.tmplErr = fmt.Errorf("%q carries no tokenizer.chat_template", path)
		}
		return v, err
	}
	dir := path
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	if v.tok, v.gen, err = dirTokenizer(dir); err != nil {
		return v, err
	}
	// A base model without a chat template still runs raw prompts; the
	// reason is kept for the first chat request.
	v.tmpl, v.tmplErr = loadTemplate(dir)
	return v, nil
}

// samplingFromGeneration turns generation_config.json into defaults:
// do_sample false means greedy, as in transformers. The seed is random.
func samplingFromGeneration(g *model.GenerationConfig) Sampling {
	if !g.DoSample {
		return Sampling{Seed: -1}
	}
	s := Sampling{Temperature: g.Temperature, TopP: g.TopP, TopK: g.TopK, Seed: -1}
	if s.Temperature == 0 {
		s.Temperature = 1 // transformers' default when sampling
	}
	return s
}

func dirTokenizer(dir string) (*tokenizer.BPE, *model.GenerationConfig, error) {
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("model directory %q has no tokenizer.json: copy the model's tokenizer files next to its weights", dir)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	gen, err := model.LoadGenerationConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	return tok, gen, nil
}

func ggufTokenizer(path string) (*tokenizer.BPE, Template, error) {
	tok, tmpl, err := GGUFVocab(path)
	if err != nil || tmpl == nil {
		return tok, nil, err // a nil *chat.Template must stay a nil Template
	}
	return tok, tmpl, nil
}

// GGUFVocab reads the byte-level BPE vocabulary and the chat template (nil
// when the file carries none) that a GGUF model file embeds.
func GGUFVocab(path string) (*tokenizer.BPE, *chat.Template, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	t, err := tokenizer.FromGGUFMetadata(f.Metadata)
	if err != nil {
		return nil, nil, fmt.Errorf("load tokenizer from %q: %w", path, err)
	}
	tok, ok := t.(*tokenizer.BPE)
	if !ok {
		return nil, nil, fmt.Errorf("%q holds a %T vocabulary; generation needs a byte-level BPE model", path, t)
	}
	src, ok := f.String("tokenizer.chat_template")
	if !ok || strings.TrimSpace(src) == "" {
		return tok, nil, nil
	}
	tmpl, err := parseTemplate(src, tok)
	if err != nil {
		return nil, nil, fmt.Errorf("chat template of %q: %w", path, err)
	}
	return tok, tmpl, nil
}

func isGGUF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = f.Read(magic[:])
	return err == nil && string(magic[:]) == "GGUF"
}

// qwen2Model adapts *qwen2.Model, whose NewState returns the concrete
// *qwen2.State, to Model.
type qwen2Model struct {
	*qwen2.Model
	kv tensor.KVType
}

func (m qwen2Model) NewState(maxSeq int) State {
	return qwen2State{m.Model.NewStateKV(maxSeq, m.kv)}
}

// NewBatcher implements BatchModel with qwen2.Batch.
func (m qwen2Model) NewBatcher(maxTokens, maxSeqs int) Batcher {
	return qwen2Batch{m.Model.NewBatch(maxTokens, maxSeqs)}
}

// qwen2State adds PrefixCopier to *qwen2.State.
type qwen2State struct{ *qwen2.State }

func (s qwen2State) CopyPrefix(src State, n int) error {
	o, ok := src.(qwen2State)
	if !ok {
		return fmt.Errorf("copy KV prefix: source state is %T, not a qwen2 state", src)
	}
	return s.State.CopyPrefix(o.State, n)
}

type qwen2Batch struct{ *qwen2.Batch }

func (b qwen2Batch) Add(s State, tokens []int, logits bool) (int, error) {
	q, ok := s.(qwen2State)
	if !ok {
		return 0, fmt.Errorf("batch: state is %T, not a qwen2 state", s)
	}
	return b.Batch.Add(q.State, tokens, logits)
}

func (b qwen2Batch) Logits(i int) ([]float32, error) { return b.Batch.Logits(i), nil }

// Qwen2 returns the network of an engine LoadLocal built (nil for one built
// by NewLocal over another Model), so that a caller can score text with the
// weights already in memory (eval's perplexities) instead of loading them
// twice. The engine owns the network: Close releases it.
func (l *Local) Qwen2() *qwen2.Model {
	if m, ok := l.model.(qwen2Model); ok {
		return m.Model
	}
	return nil
}
