package llm

import (
	"os"

	"ragtune/llm/chat"
	"ragtune/tokenizer"
)

// Vocab is the tokenizer and chat template of the model at path (an HF
// directory or a GGUF file) without loading its weights: what a pass
// over text needs before the model runs (the importance-matrix
// calibration of 'ragtune quantize'). The template is nil when the model
// has none, or an unreadable one: plain text still tokenizes, and
// conversations can fall back to chat.Plain.
func Vocab(path string) (*tokenizer.BPE, *chat.Template, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return GGUFVocab(path)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := chat.LoadTemplate(path)
	if err != nil {
		tmpl = nil
	}
	return tok, tmpl, nil
}
