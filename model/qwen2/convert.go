package qwen2

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ragtune/tokenizer"
	"ragtune/weights"
)

// ConvertToGGUF writes the HF model at srcPath (a directory, or a
// .safetensors file inside one) as one GGUF file with matrices of type
// target (KeepType: the source's), carrying the directory's tokenizer as
// tokenizer.* metadata. Without tokenizer.json the GGUF has no vocabulary;
// warn is told so, since llama.cpp will not load it.
func ConvertToGGUF(srcPath, out string, target weights.DType, progress func(done, total int64), warn io.Writer) error {
	src, cfg, err := Open(srcPath)
	if err != nil {
		return err
	}
	defer src.Close()
	dir := srcPath
	if st, err := os.Stat(srcPath); err == nil && !st.IsDir() {
		dir = filepath.Dir(srcPath)
	}
	opts := GGUFOptions{Type: target, Name: filepath.Base(filepath.Clean(dir)), Progress: progress}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		tok, err := tokenizer.Load(dir)
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		opts.Tokenizer = tok.GGUFMetadata()
	} else {
		fmt.Fprintf(warn, "ragtune: warning: %s has no tokenizer.json; the GGUF carries no vocabulary and llama.cpp will not load it\n", dir)
	}
	return WriteGGUF(out, src, cfg, opts)
}

// ConvertToHF writes the GGUF file at srcPath as an HF model directory
// out with tensors of type target (KeepDType: the config's torch_dtype;
// quantized tensors are expanded), and tokenizer.json and
// tokenizer_config.json rebuilt from the GGUF's vocabulary. A GGUF without
// one gives a directory without tokenizer files, and warn is told so.
func ConvertToHF(srcPath, out string, target weights.DType, progress func(done, total int64), warn io.Writer) error {
	gs, err := OpenGGUF(srcPath)
	if err != nil {
		return err
	}
	defer gs.Close()
	if err := ValidateTensors(gs, gs.Config); err != nil {
		return fmt.Errorf("convert %q: %w", srcPath, err)
	}
	if err := SaveHF(out, gs, *gs.Config, SaveOptions{DType: target, Progress: progress}); err != nil {
		return err
	}
	if _, ok := gs.File.Metadata["tokenizer.ggml.tokens"]; !ok {
		fmt.Fprintf(warn, "ragtune: warning: %s has no vocabulary; %s has no tokenizer files\n", srcPath, out)
		return nil
	}
	tok, err := tokenizer.FromGGUFMetadata(gs.File.Metadata)
	if err != nil {
		return fmt.Errorf("convert %q: tokenizer: %w", srcPath, err)
	}
	mt, ok := tok.(Tokenizer)
	if !ok {
		return fmt.Errorf("convert %q: its %T tokenizer cannot write tokenizer.json/tokenizer_config.json", srcPath, tok)
	}
	if err := mt.WriteJSON(filepath.Join(out, "tokenizer.json")); err != nil {
		return err
	}
	return mt.WriteConfig(out)
}
