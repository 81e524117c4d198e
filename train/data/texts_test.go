package data

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestReadTexts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("corpus/a.md", "# 标题\n\n正文。")
	write("corpus/b.jsonl", `{"text": "plain document"}`+"\n"+`{"instruction": "Q?", "output": "A."}`+"\n")
	write("corpus/.hidden/c.txt", "never read")
	write("corpus/.d.txt", "never read")
	write("corpus/image.png", "\x89PNG")
	chat := write("chat.jsonl", `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "reasoning_content": "greet back"}]}`+"\n")

	var log bytes.Buffer
	got, err := ReadTexts([]string{filepath.Join(dir, "corpus"), chat}, false, &log)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"# 标题\n\n正文。", "plain document", "Q?", "A.", "hi", "hello", "greet back"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("texts %q\nwant  %q", got, want)
	}
	if s := log.String(); !strings.HasPrefix(s, "read 7 texts (") || !strings.Contains(s, "from 3 files; skipped 1 file of other types\n") {
		t.Errorf("log %q", s)
	}

	bad := write("bad.jsonl", `{"text": "ok"}`+"\n{broken\n")
	if _, err := ReadTexts([]string{bad}, false, &log); err == nil || !strings.Contains(err.Error(), "train tokenizer: ") {
		t.Errorf("malformed row without skipBad: %v", err)
	}
	log.Reset()
	if got, err := ReadTexts([]string{bad}, true, &log); err != nil || len(got) != 1 || !strings.Contains(log.String(), "skipped 1 malformed rows of 2") {
		t.Errorf("skipBad: %q, %v, log %q", got, err, log.String())
	}

	png := filepath.Join(dir, "corpus", "image.png")
	if _, err := ReadTexts([]string{png}, false, &log); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("a file of another type: %v, want a usage error", err)
	}
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	if _, err := ReadTexts([]string{empty}, false, &log); err == nil || !strings.Contains(err.Error(), "holds no .txt") {
		t.Errorf("an empty folder: %v", err)
	}
	blank := write("blank.txt", " \n ")
	if _, err := ReadTexts([]string{blank}, false, &log); err == nil || !strings.Contains(err.Error(), "blank.txt") {
		t.Errorf("a blank file: %v, want an error naming it", err)
	}
	if _, err := ReadTexts([]string{filepath.Join(dir, "missing")}, false, &log); err == nil || !strings.HasPrefix(err.Error(), "--data: ") {
		t.Errorf("missing input: %v", err)
	}
}
