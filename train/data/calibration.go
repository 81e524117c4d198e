package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ragtune/llm/chat"
)

// CalibrationText is the text an importance matrix is collected on (the
// model runs over it before quantizing): a plain-text file as it is (any
// extension but .json/.jsonl), or the rows of training data read as
// ReadFile reads them for 'ragtune train', documents as they are and
// conversations rendered by render (chat.Plain when nil), one after
// another. rendered reports whether it holds rendered conversations,
// whose turn markers must then be tokenized as special tokens.
func CalibrationText(file string, render Renderer) (text string, rendered bool, err error) {
	if ext := strings.ToLower(filepath.Ext(file)); ext != ".json" && ext != ".jsonl" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", false, err
		}
		// llama-imatrix -f drops one final newline; so do we, so that
		// both tools see the same tokens.
		return strings.TrimSuffix(string(b), "\n"), false, nil
	}
	exs, _, err := ReadFile(file, false)
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	for _, ex := range exs {
		t := ex.Text
		if len(ex.Messages) > 0 {
			rendered = true
			if render == nil {
				t = chat.Plain(ex.Messages, false)
			} else if t, err = render(ex.Messages, false); err != nil {
				return "", false, fmt.Errorf("%s: render %s: %w", file, ex.Source, err)
			}
		}
		b.WriteString(t)
		b.WriteString("\n\n")
	}
	return b.String(), rendered, nil
}
