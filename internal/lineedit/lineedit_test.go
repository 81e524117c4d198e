package lineedit

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// A pipe gets plain lines: no prompt, no escape codes, io.EOF at the end.
func TestPlainReader(t *testing.T) {
	var out, prompts bytes.Buffer
	r := New(strings.NewReader("first\n你好 \x1b[A\n\nlast"), &out, &prompts, "")
	defer r.Close()
	var got []string
	for {
		line, err := r.ReadLine(">>> ")
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, line)
	}
	want := []string{"first", "你好 \x1b[A", "", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	if out.Len() != 0 || prompts.Len() != 0 {
		t.Errorf("piped input printed %q / %q, want nothing", out.String(), prompts.String())
	}
}

func TestPlainReaderLongLine(t *testing.T) {
	r := New(strings.NewReader(strings.Repeat("x", maxLine+1)+"\n"), io.Discard, io.Discard, "")
	if _, err := r.ReadLine(""); err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "longer than 1 MiB") {
		t.Errorf("over-long line: %v", err)
	}
}

func TestHistoryPath(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/cachehome")
	t.Setenv("HOME", "/tmp/home")
	if got, want := HistoryPath("chat_history"), "/tmp/cachehome/ragtune/chat_history"; got != want {
		t.Errorf("HistoryPath = %q, want %q", got, want)
	}
}
