package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseUnknownFlagIsOneLine(t *testing.T) {
	fs := flag.NewFlagSet("ragtune run", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.String("model", "", "model")
	fs.Float64("top-p", 1, "p")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "Usage: lots of text") }

	err := Parse(fs, []string{"--modle", "x"}, "run")
	var stderr bytes.Buffer
	if code := ExitCode(err, &stderr); code != Usage {
		t.Fatalf("exit %d, want %d", code, Usage)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if got, want := lines[0], "ragtune: unknown flag --modle; did you mean --model?"; got != want {
		t.Errorf("first line %q, want %q", got, want)
	}
	if len(lines) != 2 || lines[1] != "(see 'ragtune run --help')" {
		t.Errorf("stderr %q: want the message and the help hint only", stderr.String())
	}
	if out.Len() != 0 {
		t.Errorf("the flag package printed %q", out.String())
	}

	err = Parse(fs, []string{"--top-p", "x"}, "run")
	if got, want := err.Error(), "usage error: --top-p \"x\": not a valid number\n(see 'ragtune run --help')"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	err = Parse(fs, []string{"--model"}, "run")
	if !strings.Contains(err.Error(), "--model needs a value") {
		t.Errorf("got %q", err)
	}
	// --help prints the usage and is not an error.
	if err := Parse(fs, []string{"--help"}, "run"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "Usage:") {
		t.Errorf("--help: %v, printed %q", err, out.String())
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"model", "max-tokens", "top-p", "temperature", "lora-r", "api-keys"}
	for in, want := range map[string]string{"modle": "model", "temprature": "temperature", "top_p": "top-p", "xyz": "", "lor": "lora-r", "keys": "api-keys", "tokens": "max-tokens", "p": ""} {
		if got := Suggest(in, names); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{nil, OK}, {flag.ErrHelp, OK}, {Usagef("bad"), Usage}, {errors.New("failed"), Failure},
		{Interruptedf("stopped"), Interrupted}, {fmt.Errorf("x: %w", context.Canceled), Interrupted},
	} {
		var b bytes.Buffer
		if got := ExitCode(c.err, &b); got != c.code {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}

func TestChecks(t *testing.T) {
	var c Checks
	c.Positive("--lr", 1e-4)
	c.Range("--top-p", 0.5, 0, 1)
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	for _, f := range []func(*Checks){
		func(c *Checks) { c.Positive("--lr", math.NaN()) },
		func(c *Checks) { c.Positive("--lr", -1) },
		func(c *Checks) { c.Positive("--lr", math.Inf(1)) },
		func(c *Checks) { c.Range("--lr", 2, 0, 1) },
		func(c *Checks) { c.NonNegative("--lr", -0.1) },
		func(c *Checks) { c.RangeOpenHigh("--lr", 1, 0, 1) },
	} {
		var c Checks
		f(&c)
		if err := c.Err(); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--lr") {
			t.Errorf("check passed or did not name the flag: %v", err)
		}
	}
}

func TestOutputChecks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.gguf")
	os.WriteFile(file, []byte("x"), 0o644)
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "adapter_config.json"), []byte("{}"), 0o644)
	for _, c := range []struct {
		err  error
		want string // "" = accepted
	}{
		{OutputFile("--out", filepath.Join(dir, "new.gguf"), false), ""},
		{OutputFile("--out", file, false), "already exists: choose another --out or pass --force"},
		{OutputFile("--out", file, true), ""},
		{OutputFile("--out", dir, true), "is a directory"},
		{OutputFile("--out", filepath.Join(dir, "missing", "x.gguf"), false), "does not exist"},
		{OutputDir("--out", filepath.Join(dir, "a", "b"), false), ""},
		{OutputDir("--out", full, false), "is not empty (adapter_config.json): choose another --out or pass --force"},
		{OutputDir("--out", full, true), ""},
		{OutputDir("--out", file, true), "is a file"},
		{OutputDir("--out", filepath.Join(file, "sub"), false), "is a file, not a directory"},
	} {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("unexpected error %v", c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want) || !errors.Is(c.err, ErrUsage)):
			t.Errorf("got %v, want a usage error containing %q", c.err, c.want)
		}
	}
}

func TestModelPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	hf := filepath.Join(dir, "hf")
	os.MkdirAll(hf, 0o755)
	write("hf/config.json", "{}")
	for path, want := range map[string]string{
		write("empty.gguf", ""):                  "is an empty file",
		write("three.gguf", "GGU"):               "is not a GGUF file: only 3 bytes",
		write("other.gguf", "PK\x03\x04 zip"):    "is not a GGUF file (it does not start",
		write("notes.txt", "hello"):              "is not a model: pass an HF model directory",
		write("README.md", "# hi"):               "is not a model",
		dir + "/hf/..":                           "did you mean the GGUF file",
		t.TempDir():                              "is not a model directory: it has no config.json",
		filepath.Join(dir, "nope"):               "not found: pass an HF model directory",
		"deepseek-ai/DeepSeek-R1-Distill-Q-1B":   "download it first with 'ragtune model pull deepseek-ai/DeepSeek-R1-Distill-Q-1B'",
		write("ok.gguf", "GGUF\x03\x00\x00\x00"): "",
		hf:                                       "",
	} {
		err := ModelPath(path)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", path, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", path, err, want)
		}
	}
}
