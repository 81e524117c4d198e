package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/gguf"
)

// captureStdout runs fn with os.Stdout redirected and returns the output.
func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	ferr := fn()
	w.Close()
	os.Stdout = saved
	out := <-done
	if ferr != nil {
		t.Fatalf("%v\n%s", ferr, out)
	}
	return string(out)
}

// TestModelInitInspectConvert runs the model commands end to end on the
// tiny preset: init, inspect, HF → GGUF, GGUF → HF, and checks the weights
// come back byte for byte and the tokenizer survives.
func TestModelInitInspectConvert(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(dir, "tiny")
	out := captureStdout(t, func() error { return runModelInit([]string{"--out", hf, "--seed", "3"}) })
	if !strings.Contains(out, "vocab 320 (tokenizer 263)") {
		t.Errorf("init output: %s", out)
	}
	for _, f := range []string{"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if _, err := os.Stat(filepath.Join(hf, f)); err != nil {
			t.Errorf("init did not write %s: %v", f, err)
		}
	}
	if err := runModelInit([]string{"--out", hf}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("init into a non-empty dir: err = %v", err)
	}

	out = captureStdout(t, func() error { return runModelInspect([]string{hf}) })
	for _, want := range []string{"hidden_size              64", "model.layers.1.mlp.down_proj.weight", "F32", "[160 64]", "27 tensors", "127.6K parameters"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("inspect warns on a fresh model:\n%s", out)
	}

	g := filepath.Join(dir, "tiny.gguf")
	captureStdout(t, func() error { return runModelConvert([]string{"--model", hf, "--out", g}) })
	f, err := gguf.Open(g)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.String("general.architecture"); got != "qwen2" {
		t.Errorf("architecture = %q", got)
	}
	if got, _ := f.String("tokenizer.ggml.model"); got != "gpt2" {
		t.Errorf("tokenizer model = %q", got)
	}
	if toks, _ := f.Metadata["tokenizer.ggml.tokens"].([]string); len(toks) != 320 {
		t.Errorf("%d tokens, want 320 (padded to vocab_size)", len(toks))
	}
	f.Close()
	out = captureStdout(t, func() error { return runModelInspect([]string{g}) })
	if !strings.Contains(out, "GGUF v3 metadata") || !strings.Contains(out, "model.layers.0.self_attn.q_proj.bias") {
		t.Errorf("inspect of GGUF:\n%s", out)
	}

	back := filepath.Join(dir, "back")
	captureStdout(t, func() error { return runModelConvert([]string{"--model", g, "--out", back}) })
	a, _ := os.ReadFile(filepath.Join(hf, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(back, "model.safetensors"))
	if !bytes.Equal(a, b) {
		t.Error("model.safetensors differs after HF → GGUF → HF")
	}
	if _, err := os.Stat(filepath.Join(back, "tokenizer.json")); err != nil {
		t.Errorf("no tokenizer.json after GGUF → HF: %v", err)
	}

	bf := filepath.Join(dir, "bf16.gguf")
	captureStdout(t, func() error { return runModelConvert([]string{"--model", hf, "--out", bf, "--type", "bf16"}) })
	if err := runModelConvert([]string{"--model", hf, "--out", bf, "--type", "q5"}); err == nil {
		t.Error("unknown --type accepted")
	}
}
