package llm

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// TestVocab: a model directory and its GGUF export give the same token
// ids and a chat template that renders the same; a directory without a
// template gives the tokenizer and a nil template, and one without a
// tokenizer an error.
func TestVocab(t *testing.T) {
	dir := tinyModelDir(t)
	src, cfg, err := qwen2.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tiny.gguf")
	err = qwen2.WriteGGUF(file, src, cfg, qwen2.GGUFOptions{Type: qwen2.KeepType, Tokenizer: tok.GGUFMetadata()})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	msgs := []chat.Message{{Role: "user", Content: "你好, world"}}
	var ids [][]int
	var prompts []string
	for _, p := range []string{dir, file} {
		tk, tmpl, err := Vocab(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if tmpl == nil {
			t.Fatalf("%s: no chat template", p)
		}
		s, err := tmpl.Render(msgs, true)
		if err != nil {
			t.Fatal(err)
		}
		prompts = append(prompts, s)
		ids = append(ids, tk.Encode("你好, world", true))
	}
	if !reflect.DeepEqual(ids[0], ids[1]) || prompts[0] != prompts[1] {
		t.Errorf("directory and GGUF differ:\n%v %q\n%v %q", ids[0], prompts[0], ids[1], prompts[1])
	}

	bare := t.TempDir()
	if err := tok.WriteJSON(filepath.Join(bare, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if tk, tmpl, err := Vocab(bare); err != nil || tk == nil || tmpl != nil {
		t.Errorf("tokenizer.json alone: %v, %v, %v; want a tokenizer and no template", tk, tmpl, err)
	}
	if err := os.Remove(filepath.Join(bare, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Vocab(bare); err == nil {
		t.Error("a directory without tokenizer.json: no error")
	}
}
