package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
)

// TrainToDir trains a vocabulary (TrainBPE) with chatTemplate as its chat
// template and writes it into dir (created) as tokenizer.json and
// tokenizer_config.json: the files 'ragtune model init --tokenizer DIR'
// puts into a new model. Each file is written atomically (temporary name,
// then rename), so an interrupted run never leaves a half-written
// tokenizer.json behind.
func TrainToDir(dir string, corpus []string, vocabSize int, chatTemplate string, specials ...AddedToken) (*BPE, error) {
	tok, err := TrainBPE(corpus, vocabSize, specials...)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	tok.ChatTemplate = chatTemplate
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	if err := tok.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, err
	}
	if err := tok.WriteConfig(dir); err != nil {
		return nil, err
	}
	return tok, nil
}
