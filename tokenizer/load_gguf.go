package tokenizer

import (
	"fmt"

	"ragtune/gguf"
)

// LoadGGUF loads the vocabulary a GGUF file embeds in its tokenizer.ggml.*
// metadata (FromGGUFMetadata): a model file, or llama.cpp's vocab-only
// files. The weights are not read.
func LoadGGUF(path string) (Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tok, err := FromGGUFMetadata(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("tokenizer of %q: %w", path, err)
	}
	return tok, nil
}
