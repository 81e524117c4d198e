package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestOptionalFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var temp, unset OptFloat
	var seed OptInt
	var stops StringList
	fs.Var(&temp, "temperature", "")
	fs.Var(&unset, "top-p", "")
	fs.Var(&seed, "seed", "")
	fs.Var(&stops, "stop", "")
	if err := fs.Parse([]string{"--temperature", "0", "--seed", "-3", "--stop", "a", "--stop", "b c"}); err != nil {
		t.Fatal(err)
	}
	if p := temp.Ptr(); p == nil || *p != 0 || temp.String() != "0" {
		t.Errorf("--temperature 0: %v %q", p, temp.String())
	}
	if unset.Ptr() != nil || unset.String() != "" {
		t.Error("an unset flag has a value")
	}
	if p := seed.Ptr(); p == nil || *p != -3 || seed.String() != "-3" {
		t.Errorf("--seed -3: %v", p)
	}
	if len(stops) != 2 || stops.String() != "a, b c" {
		t.Errorf("--stop: %q", stops)
	}
	if err := fs.Parse([]string{"--temperature", "warm"}); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("bad float: %v", err)
	}
	if err := fs.Parse([]string{"--seed", "1.5"}); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("bad int: %v", err)
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		flag  string
		words []string
		stdin string
		want  string
		err   string
	}{
		{"hi", nil, "", "hi", ""},
		{"", []string{"two", "words"}, "", "two words", ""},
		{"-", nil, "from stdin\r\n\n", "from stdin", ""},
		{"", nil, "", "", ""},
		{"hi", []string{"too"}, "", "", "give the prompt once: --prompt or words after the flags, not both"},
	}
	for _, tc := range tests {
		got, err := Text("prompt", tc.flag, tc.words, strings.NewReader(tc.stdin))
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && (!strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrUsage))) {
			t.Errorf("Text(%q, %q) = %q, %v; want %q, %q", tc.flag, tc.words, got, err, tc.want, tc.err)
		}
	}
	if _, err := Text("prompt", "-", nil, iotest.ErrReader(errors.New("boom"))); err == nil || !strings.Contains(err.Error(), "read prompt from stdin: boom") {
		t.Errorf("stdin error: %v", err)
	}
}

func TestShellQuoteAndPrintFlags(t *testing.T) {
	for in, want := range map[string]string{"plain-1.5": "plain-1.5", "": "''", "a b": "'a b'", "it's": `'it'\''s'`} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
	fs := NewFlagSet("x", "[flags]", "\nDoes x.\n")
	fs.String("out", "r", "output `DIR`")
	fs.Int("n", 0, "count (default: all)")
	fs.Int("k", 5, "top `K` (default 5 here)")
	var b strings.Builder
	fs.SetOutput(&b)
	fs.Usage()
	want := "Usage: ragtune x [flags]\n\nDoes x.\n\nFlags:\n  --k K\n    \ttop K (default 5 here)\n  --n int\n    \tcount (default: all)\n  --out DIR\n    \toutput DIR (default \"r\")\n"
	if b.String() != want {
		t.Errorf("usage:\n%s\nwant\n%s", b.String(), want)
	}
}
