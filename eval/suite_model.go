package eval

import (
	"errors"

	"ragtune/internal/bytesize"
	"ragtune/llm"
	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
	"ragtune/train"
	"ragtune/train/data"
)

// Model is one model under evaluation: an engine to generate answers and,
// when the weights are in this process, the network itself to score
// perplexities. Suites skip perplexity metrics when Net is nil (a remote or
// fake engine).
type Model struct {
	Label   string // how reports name it ("base", "tuned")
	Path    string
	Adapter string // PEFT LoRA adapter directory merged on load, if any
	Engine  llm.Engine
	Net     *qwen2.Model
	Tok     *tokenizer.BPE
	// Template renders chat messages for answer-only perplexity and
	// generation; nil when the model has none, and then chat.Plain is used
	// and prompts go to the engine as raw text.
	Template *chat.Template
	// RawPrompts sends chat.Plain text instead of chat messages, for
	// engines without a chat template.
	RawPrompts bool
	// FileBytes is the size of the weights on disk (model file or
	// directory, plus the adapter).
	FileBytes int64
	// Parallel is how many generations the suites submit at once (the
	// engine's slots, which share its forward steps); 0 or 1: one at a
	// time.
	Parallel int

	close func() error
}

// Close releases the model's weights.
func (m *Model) Close() error {
	if m.close == nil {
		return nil
	}
	return m.close()
}

// LoadOptions configure LoadModel.
type LoadOptions struct {
	ContextSize int // tokens per generation; 0: min(model maximum, 4096)
	// Parallel is how many generations run at once. 0: llm.DefaultParallel
	// where batching cannot change a token (quantized GGUF weights on the
	// int8 tile kernels, see llm.BatchInvariant), so scores are those of a
	// one-by-one run; otherwise 1.
	Parallel int
}

// LoadModel opens an HF directory or GGUF file through llm.LoadLocal
// (F32/F16/BF16, Q8_0 and Q4_0 run directly), merging a PEFT LoRA adapter
// when adapter is not empty, and keeps what scoring needs besides the
// engine: the network for perplexity, the tokenizer and the chat template.
// Generation is greedy whatever generation_config.json asks, so that scores
// are reproducible.
func LoadModel(path, adapter string, o LoadOptions) (*Model, error) {
	opts := llm.LoadOptions{LocalOptions: llm.LocalOptions{
		ContextSize: o.ContextSize, Parallel: o.Parallel, Sampling: &llm.Sampling{},
	}}
	src, cfg, err := train.OpenWithAdapter(path, adapter)
	if err != nil {
		return nil, err
	}
	if o.Parallel == 0 {
		opts.Parallel = 1
		if adapter == "" && llm.BatchInvariant(src) {
			opts.Parallel = llm.DefaultParallel(path, o.ContextSize, "")
		}
	}
	eng, err := llm.LoadLocalFrom(path, src, cfg, opts)
	if err != nil {
		return nil, err
	}
	// A base model without a chat template still scores raw text
	// (RawPrompts), so its absence is no error here.
	tmpl, _ := eng.Template().(*chat.Template)
	size := bytesize.OfPath(path)
	if adapter != "" {
		size += bytesize.OfPath(adapter)
	}
	return &Model{
		Path: path, Adapter: adapter, Engine: eng, Net: eng.Qwen2(),
		// LoadLocal always builds over a byte-level BPE vocabulary.
		Tok:      eng.Tokenizer().(*tokenizer.BPE),
		Template: tmpl, RawPrompts: tmpl == nil,
		FileBytes: size, Parallel: eng.Parallel(), close: eng.Close,
	}, nil
}

// renderer adapts a chat template (chat.Plain after bos when nil) to
// train/data's Renderer. bos is the BOS token's text: chat templates write
// it themselves, chat.Plain does not, and a raw prompt gets it from the
// tokenizer when generating.
func renderer(t *chat.Template, bos string) data.Renderer {
	return func(msgs []data.Message, gen bool) (string, error) {
		if t == nil {
			return bos + chat.Plain(msgs, gen), nil
		}
		return t.Render(msgs, gen)
	}
}

var errNoNet = errors.New("perplexity needs the model's weights in this process")
