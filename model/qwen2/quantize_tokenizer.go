package qwen2

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ragtune/gguf"
	"ragtune/tokenizer"
)

// TokenizerMetadata returns the tokenizer.* GGUF keys for the model at
// srcPath, for QuantizeOptions.Tokenizer: a GGUF file's own, or those
// built from an HF directory's tokenizer.json. llama.cpp refuses a file
// without them, yet the weights are still worth writing, so a missing
// tokenizer is not an error: warning says what is missing, for the caller
// to show.
func TokenizerMetadata(srcPath string) (md map[string]any, warning string, err error) {
	st, err := os.Stat(srcPath)
	if err != nil {
		return nil, "", fmt.Errorf("quantize: %w", err)
	}
	if !st.IsDir() && strings.HasSuffix(srcPath, ".gguf") {
		f, err := gguf.Open(srcPath)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		md := map[string]any{}
		for k, v := range f.Metadata {
			if strings.HasPrefix(k, "tokenizer.") {
				md[k] = v
			}
		}
		if len(md) == 0 {
			warning = srcPath + " has no tokenizer metadata; llama.cpp will not load the output"
		}
		return md, warning, nil
	}
	dir := srcPath
	if !st.IsDir() {
		dir = filepath.Dir(srcPath)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, dir + " has no tokenizer.json; llama.cpp will not load the output", nil
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, "", fmt.Errorf("quantize: %w", err)
	}
	return tok.GGUFMetadata(), "", nil
}
