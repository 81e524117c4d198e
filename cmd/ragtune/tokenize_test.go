package main

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/shareddata"
)

func tokenizeCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runTokenize(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestTokenizeByteLevelDefault(t *testing.T) {
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"argument", "", []string{"--ids", "hi"}, "104 105\n"},
		{"stdin keeps trailing newline", "hi\n", []string{"--ids"}, "104 105 10\n"},
		{"add special prepends BOS", "", []string{"--ids", "--add-special", "<think>a"}, "259 261 97\n"},
		{"flags after text", "", []string{"a", "--ids"}, "97\n"},
		{"empty stdin", "", []string{"--ids"}, "\n"},
		{"listing", "", []string{"中"}, "    228  \"\\xe4\"\n    184  \"\\xb8\"\n    173  \"\\xad\"\n"},
	}
	for _, c := range cases {
		got, _, err := tokenizeCmd(t, c.stdin, c.args...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: output %q, want %q", c.name, got, c.want)
		}
	}
}

func TestTokenizeQwen(t *testing.T) {
	dir := shareddata.Path(t, "qwen2.5-tokenizer")
	got, _, err := tokenizeCmd(t, "", "--tokenizer", dir, "--ids", "Hello world")
	if err != nil {
		t.Fatal(err)
	}
	if want := "9707 1879\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, _, err = tokenizeCmd(t, " Hello", "--tokenizer", filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "  21927  \" Hello\"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, _, err = tokenizeCmd(t, "", "--tokenizer", shareddata.Path(t, "tokenizer-tests", "ggml-vocab-bert-bge.gguf"), "--ids", "--add-special", "Hello world")
	if err != nil {
		t.Fatal(err)
	}
	if want := "101 7592 2088 102\n"; got != want {
		t.Errorf("bge: got %q, want %q", got, want)
	}
}

func TestTokenizeErrors(t *testing.T) {
	if _, _, err := tokenizeCmd(t, "", "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if _, _, err := tokenizeCmd(t, "", "a", "b"); !errors.Is(err, errUsage) {
		t.Errorf("two texts: %v, want usage error", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.json")
	if _, _, err := tokenizeCmd(t, "", "--tokenizer", missing, "x"); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing tokenizer: %v", err)
	}
}
