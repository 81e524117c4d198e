package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/llm/chat"
	"ragtune/tokenizer"
)

func writeTestFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestModelTrainTokenizer trains on a folder holding every accepted form
// and checks the result is an R1-shaped tokenizer that tokenizer.Load and
// 'model init --tokenizer' read, learned from each form.
func TestModelTrainTokenizer(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	notes := strings.Repeat("预训练在大量文本上学习预测下一个词元。Pre-training teaches the model to predict the next token.\n", 3)
	writeTestFiles(t, data, map[string]string{
		"notes.md": notes,
		// Words that only the JSON rows hold show they are read: "zebra"
		// from alpaca rows, "quokka" from a messages array.
		"qa.jsonl": `{"instruction": "What is a zebra?", "input": "", "output": "A zebra is a striped horse; zebra herds graze."}
{"text": "zebra zebra zebra"}
`,
		"chat.json":        `[{"messages": [{"role": "user", "content": "quokka?"}, {"role": "assistant", "content": "A quokka quokka quokka."}]}]`,
		"image.bin":        "\x00\x01",
		".hidden/skip.txt": strings.Repeat("wombat ", 50),
	})
	out := filepath.Join(dir, "tok")
	if code, stderr := runCmdLine(t, "model", "train-tokenizer", "--data", data, "--vocab", "400", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := tok.VocabSize(); n > 400 || n <= 263 || tok.NumMerges() != n-263 {
		t.Errorf("%d tokens with %d merges, want at most 400 with merges learned", n, tok.NumMerges())
	}
	for i, s := range []string{"<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜begin▁of▁sentence｜>", "<|EOT|>", "<think>", "</think>"} {
		if id, ok := tok.TokenID(s); !ok || id != 256+i {
			t.Errorf("%s: id %d (present %v), want %d", s, id, ok, 256+i)
		}
	}
	if tok.ChatTemplate != chat.R1Template {
		t.Errorf("chat template is not R1's (%d bytes)", len(tok.ChatTemplate))
	}
	for _, w := range []string{"Ġzebra", "Ġquokka"} {
		if _, ok := tok.TokenID(w); !ok {
			t.Errorf("no token %q: the JSON rows were not learned", w)
		}
	}
	if _, ok := tok.TokenID("Ġwombat"); ok {
		t.Error("a file in a hidden folder was read")
	}
	text := "预训练 teaches the model; 微调 fine-tunes it, then 量化 quantizes it."
	ids := tok.Encode(text, false)
	if got := tok.Decode(ids); got != text {
		t.Errorf("round trip %q → %q", text, got)
	}
	if len(ids) >= len(text) {
		t.Errorf("%d tokens for %d bytes: no merge applied", len(ids), len(text))
	}

	// The same texts in another order give the same files: training
	// depends on word counts only.
	again := filepath.Join(dir, "again")
	for _, f := range []string{"qa.jsonl", "chat.json", "notes.md"} {
		if code, stderr := runCmdLine(t, "model", "train-tokenizer", "--data", filepath.Join(data, f), "--vocab", "400", "--out", again, "--force"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	code, stderr := runCmdLine(t, "model", "train-tokenizer", "--data", filepath.Join(data, "chat.json"), "--data", filepath.Join(data, "notes.md"),
		"--data", filepath.Join(data, "qa.jsonl"), "--vocab", "400", "--out", again, "--force")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, _ := os.ReadFile(filepath.Join(again, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs when the inputs come in another order", f)
		}
	}

	// A model made with it carries the same tokenizer.
	m := filepath.Join(dir, "model")
	if code, stderr := runCmdLine(t, "model", "init", "--tokenizer", out, "--out", m); code != 0 {
		t.Fatalf("model init: exit %d: %s", code, stderr)
	}
	mt, err := tokenizer.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := mt.Encode(text, false); !reflect.DeepEqual(got, ids) {
		t.Errorf("the model's tokenizer encodes differently: %v vs %v", got, ids)
	}
}

func TestModelTrainTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{
		"a.txt":               "some text, some text",
		"empty.txt":           " \n",
		"blank.jsonl":         `{"text": "   "}` + "\n",
		"data.csv":            "a,b\n",
		"other/x.bin":         "\x00",
		"done/tokenizer.json": "{}",
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	out := p("out")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--vocab", "300", "--out", out}, 2, "--data, --vocab and --out are required"},
		{[]string{"--data", p("a.txt"), "--out", out}, 2, "--data, --vocab and --out are required"},
		{[]string{"--data", p("a.txt"), "--vocab", "262", "--out", out}, 2, "smaller than the 256 byte tokens plus 7 special tokens (263)"},
		{[]string{"--data", p("missing.txt"), "--vocab", "300", "--out", out}, 1, "no such file"},
		{[]string{"--data", p("data.csv"), "--vocab", "300", "--out", out}, 2, "not a .txt, .md, .json or .jsonl file"},
		{[]string{"--data", p("other"), "--vocab", "300", "--out", out}, 1, "holds no .txt, .md, .json or .jsonl files"},
		{[]string{"--data", p("empty.txt"), "--vocab", "300", "--out", out}, 1, "the file is empty"},
		{[]string{"--data", p("blank.jsonl"), "--vocab", "300", "--out", out}, 1, `"text" is empty`},
		{[]string{"--data", p("a.txt"), "--vocab", "300", "--out", p("done")}, 2, "already holds tokenizer.json"},
		{[]string{"--data", p("a.txt"), "--vocab", "300", "--out", out, "extra"}, 2, "unexpected argument"},
	}
	for _, tc := range tests {
		code, stderr := runCmdLine(t, append([]string{"model", "train-tokenizer"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run created --out")
	}

	// Without R1's tokens only the 256 bytes are required.
	code, stderr := runCmdLine(t, "model", "train-tokenizer", "--data", p("a.txt"), "--vocab", "256", "--r1-tokens=false", "--out", out)
	if code != 0 {
		t.Fatalf("--r1-tokens=false: exit %d: %s", code, stderr)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tok.TokenID("<think>"); ok || tok.VocabSize() != 256 || tok.ChatTemplate != "" {
		t.Errorf("--r1-tokens=false: %d tokens, template %d bytes", tok.VocabSize(), len(tok.ChatTemplate))
	}
}
