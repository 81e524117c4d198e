package eval

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ragtune/llm"
	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/quant"
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
	// generation; nil when the model has none, and then PlainChat is used
	// and prompts go to the engine as raw text.
	Template *chat.Template
	// RawPrompts sends PlainChat text instead of chat messages, for
	// engines without a chat template.
	RawPrompts bool
	// FileBytes is the size of the weights on disk (model file or
	// directory, plus the adapter).
	FileBytes int64

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
	Parallel    int // concurrent generations; 0: 1
}

// LoadModel opens an HF directory or GGUF file (F32/F16/BF16, Q8_0 and Q4_0
// run directly), merging a PEFT LoRA adapter when adapter is not empty,
// and builds a greedy engine over it. Loading here rather than through
// llm.LoadLocal keeps the *qwen2.Model for perplexity and applies the
// adapter, which llm.LoadLocal does not take.
func LoadModel(path, adapter string, o LoadOptions) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w (pass an HF model directory or a .gguf file)", err)
	}
	var (
		tok  *tokenizer.BPE
		tmpl *chat.Template
		eos  []int
	)
	if !st.IsDir() && strings.EqualFold(filepath.Ext(path), ".gguf") {
		if tok, tmpl, err = ggufVocab(path); err != nil {
			return nil, err
		}
	} else {
		dir := path
		if !st.IsDir() {
			dir = filepath.Dir(path)
		}
		if tok, err = tokenizer.Load(dir); err != nil {
			return nil, fmt.Errorf("load tokenizer of %q: %w", path, err)
		}
		// A base model without a chat template still scores raw text.
		if t, err := chat.LoadTemplate(dir); err == nil {
			tmpl = t
		}
		gen, err := model.LoadGenerationConfig(dir)
		if err != nil {
			return nil, err
		}
		if gen != nil {
			eos = gen.EOSTokenIDs()
		}
	}
	src, cfg, err := model.Open(path)
	if err != nil {
		return nil, err
	}
	if adapter != "" {
		if src, err = train.ApplyAdapter(src, adapter); err != nil {
			return nil, fmt.Errorf("apply adapter %q to %q: %w", adapter, path, err)
		}
	}
	net, err := qwen2.New(cfg, src, qwen2.WithMatrixLoader(quant.Loader(qwen2.DefaultMatrix)))
	if err != nil {
		return nil, fmt.Errorf("load %q: %w", path, err)
	}
	var tpl llm.Template
	if tmpl != nil {
		tpl = tmpl
	}
	eng, err := llm.NewLocal(netModel{net}, tok, tpl, llm.LocalOptions{
		ContextSize: o.ContextSize, Parallel: o.Parallel, Sampling: &llm.Sampling{}, EOS: eos,
	})
	if err != nil {
		net.Close()
		return nil, fmt.Errorf("load %q: %w", path, err)
	}
	size := pathBytes(path)
	if adapter != "" {
		size += pathBytes(adapter)
	}
	return &Model{
		Path: path, Adapter: adapter, Engine: eng, Net: net, Tok: tok, Template: tmpl, RawPrompts: tmpl == nil,
		FileBytes: size, close: eng.Close,
	}, nil
}

// netModel adapts *qwen2.Model, whose NewState returns the concrete state,
// to llm.Model.
type netModel struct{ *qwen2.Model }

func (m netModel) NewState(maxSeq int) llm.State { return m.Model.NewState(maxSeq) }

func ggufVocab(path string) (*tokenizer.BPE, *chat.Template, error) {
	return llm.GGUFVocab(path)
}

// pathBytes is the size of a file, or of the regular files in a directory
// (0 when unreadable: size is informative, never a reason to fail).
func pathBytes(path string) int64 {
	var n int64
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// renderer adapts a chat template (PlainChat after bos when nil) to
// train/data's Renderer. bos is the BOS token's text: chat templates write
// it themselves, PlainChat does not, and a raw prompt gets it from the
// tokenizer when generating.
func renderer(t *chat.Template, bos string) data.Renderer {
	return func(msgs []data.Message, gen bool) (string, error) {
		cm := make([]chat.Message, len(msgs))
		for i, x := range msgs {
			cm[i] = chat.Message{Role: x.Role, Content: x.Content, ReasoningContent: x.ReasoningContent}
		}
		if t == nil {
			return bos + PlainChat(cm, gen), nil
		}
		return t.Render(cm, gen)
	}
}

// PlainChat renders messages for a model without a chat template (a base
// model, a test model): "User: …" / "Assistant: …" lines, ending with
// "Assistant:" when a reply is wanted.
func PlainChat(msgs []chat.Message, gen bool) string {
	var b strings.Builder
	for _, m := range msgs {
		role := m.Role
		if role != "" {
			role = strings.ToUpper(role[:1]) + role[1:]
		}
		fmt.Fprintf(&b, "%s: %s\n", role, m.Content)
	}
	if gen {
		b.WriteString("Assistant:")
	}
	return b.String()
}

var errNoNet = errors.New("perplexity needs the model's weights in this process")
