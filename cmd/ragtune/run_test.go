package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// genTestModel writes the tiny preset with R1's byte-level vocabulary and
// chat template, for run and chat tests.
func genTestModel(t *testing.T) string {
	t.Helper()
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := qwen2.Init(dir, cfg, 3, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	// Give the directory R1's chat template when model init wrote none.
	path := filepath.Join(dir, "tokenizer_config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tc map[string]any
	if err := json.Unmarshal(b, &tc); err != nil {
		t.Fatal(err)
	}
	if s, _ := tc["chat_template"].(string); s == "" {
		tc["chat_template"] = chat.R1Template
		if err := model.WriteJSON(path, tc); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// utf8Writer fails the test when any single write is not valid UTF-8:
// streamed output must never split a character.
type utf8Writer struct {
	t *testing.T
	bytes.Buffer
}

func (w *utf8Writer) Write(p []byte) (int, error) {
	if !utf8.Valid(p) {
		w.t.Errorf("write %q is not valid UTF-8", p)
	}
	return w.Buffer.Write(p)
}

func runCLI(t *testing.T, f func([]string, *strings.Reader, *utf8Writer, *utf8Writer) error, stdin string, args ...string) (string, string, error) {
	t.Helper()
	out, errw := &utf8Writer{t: t}, &utf8Writer{t: t}
	err := f(args, strings.NewReader(stdin), out, errw)
	return out.String(), errw.String(), err
}

func run(args []string, in *strings.Reader, out, errw *utf8Writer) error {
	return runRun(args, in, out, errw)
}

func TestRunGreedyIsDeterministic(t *testing.T) {
	dir := genTestModel(t)
	args := []string{"--model", dir, "--raw", "--prompt", "你好，世界 hello", "--max-tokens", "40", "--temperature", "0"}
	out1, stderr, err := runCLI(t, run, "", args...)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	out2, _, err := runCLI(t, run, "", args...)
	if err != nil {
		t.Fatal(err)
	}
	if out1 != out2 || out1 == "" {
		t.Errorf("two greedy runs printed %q and %q", out1, out2)
	}
	if !strings.Contains(stderr, "prompt 22 tokens") || !strings.Contains(stderr, "tok/s") {
		t.Errorf("stderr lacks the speed line: %q", stderr)
	}
	// A seed makes sampling reproducible too; the prompt may come from stdin.
	seeded := []string{"--model", dir, "--raw", "--prompt", "-", "--max-tokens", "30", "--temperature", "1", "--seed", "9"}
	s1, _, err := runCLI(t, run, "abc\n", seeded...)
	if err != nil {
		t.Fatal(err)
	}
	s2, _, _ := runCLI(t, run, "abc\n", seeded...)
	if s1 != s2 {
		t.Errorf("same seed printed %q and %q", s1, s2)
	}
}

func TestRunUsageErrors(t *testing.T) {
	dir := genTestModel(t)
	tests := map[string][]string{
		"no model":         {"--prompt", "x"},
		"no prompt":        {"--model", dir},
		"two prompts":      {"--model", dir, "--prompt", "x", "y"},
		"bad top-p":        {"--model", dir, "--prompt", "x", "--top-p", "3"},
		"think both ways":  {"--model", dir, "--prompt", "x", "--show-think", "--no-think"},
		"system with raw":  {"--model", dir, "--prompt", "x", "--raw", "--system", "s"},
		"temperature typo": {"--model", dir, "--prompt", "x", "--temperature", "hot"},
	}
	for name, args := range tests {
		_, _, err := runCLI(t, run, "", args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("%s: err = %v, want a usage error", name, err)
		}
	}
	if _, _, err := runCLI(t, run, "", "--model", t.TempDir(), "--prompt", "x"); err == nil || errors.Is(err, errUsage) {
		t.Errorf("empty model directory: err = %v, want a load error", err)
	}
}

func TestRunChatTemplate(t *testing.T) {
	dir := genTestModel(t)
	// --show-think puts the reasoning on stdout between the markers; the
	// random tiny model never closes it within 12 tokens.
	out, stderr, err := runCLI(t, run, "", "--model", dir, "--prompt", "你好", "--max-tokens", "12", "--seed", "1", "--show-think")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if !strings.HasPrefix(out, "<think>\n") {
		t.Errorf("--show-think output %q does not open with <think>", out)
	}
	// Without it, reasoning goes to stderr and stdout holds only the answer.
	out, stderr, err = runCLI(t, run, "", "--model", dir, "--prompt", "你好", "--max-tokens", "12", "--seed", "1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "<think>") {
		t.Errorf("stdout %q shows the reasoning marker", out)
	}
}
