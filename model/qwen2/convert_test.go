package qwen2_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// HF → GGUF → HF keeps every tensor and the tokenizer; without
// tokenizer files each direction says so and still converts.
func TestConvertRoundTrip(t *testing.T) {
	dir := initTiny(t, "float32", 3)
	var warn bytes.Buffer
	bare := filepath.Join(t.TempDir(), "bare.gguf")
	if err := qwen2.ConvertToGGUF(dir, bare, qwen2.KeepType, nil, &warn); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "has no tokenizer.json") {
		t.Errorf("no warning for a directory without tokenizer.json: %q", warn.String())
	}
	warn.Reset()
	if err := qwen2.ConvertToHF(bare, filepath.Join(t.TempDir(), "bare-hf"), qwen2.KeepDType, nil, &warn); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "has no vocabulary") {
		t.Errorf("no warning for a GGUF without a vocabulary: %q", warn.String())
	}

	tok := tokenizer.ByteLevelR1()
	if err := tok.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if err := tok.WriteConfig(dir); err != nil {
		t.Fatal(err)
	}
	warn.Reset()
	g := filepath.Join(t.TempDir(), "m.gguf")
	var calls int
	if err := qwen2.ConvertToGGUF(filepath.Join(dir, "model.safetensors"), g, qwen2.KeepType, func(done, total int64) { calls++ }, &warn); err != nil {
		t.Fatal(err)
	}
	if warn.Len() != 0 || calls == 0 {
		t.Errorf("warning %q, %d progress calls", warn.String(), calls)
	}
	back := filepath.Join(t.TempDir(), "back")
	if err := qwen2.ConvertToHF(g, back, qwen2.KeepDType, nil, &warn); err != nil {
		t.Fatal(err)
	}
	bt, err := tokenizer.Load(back)
	if err != nil {
		t.Fatal(err)
	}
	if bt.VocabSize() != tok.VocabSize() || bt.BOS() != tok.BOS() {
		t.Errorf("tokenizer back: %d tokens, BOS %d; want %d, %d", bt.VocabSize(), bt.BOS(), tok.VocabSize(), tok.BOS())
	}
	a, acfg := openModel(t, dir)
	defer a.Close()
	b, _ := openModel(t, back)
	defer b.Close()
	for _, s := range qwen2.Tensors(acfg) {
		x, err := a.Tensor(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		y, err := b.Tensor(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.Data, y.Data) {
			t.Errorf("%s differs after HF → GGUF → HF", s.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(back, "tokenizer_config.json")); err != nil {
		t.Error(err)
	}
}
