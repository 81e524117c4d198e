package tokenizer

import (
	"path/filepath"
	"testing"

	"ragtune/internal/shareddata"
)

func TestByteLevelFor(t *testing.T) {
	for _, c := range []struct {
		modelType, has, hasNot string
	}{
		{"qwen2", "<｜begin▁of▁sentence｜>", "<|im_start|>"},
		{"", "<｜begin▁of▁sentence｜>", "<|im_start|>"},
		{"llama", "<｜begin▁of▁sentence｜>", "<|im_start|>"},
		{"qwen3", "<|im_start|>", "<｜begin▁of▁sentence｜>"},
	} {
		b := ByteLevelFor(c.modelType)
		if _, ok := b.TokenID(c.has); !ok {
			t.Errorf("%q: no %s", c.modelType, c.has)
		}
		if _, ok := b.TokenID(c.hasNot); ok {
			t.Errorf("%q: has %s", c.modelType, c.hasNot)
		}
	}
}

func TestForModelType(t *testing.T) {
	r1 := ByteLevelR1()
	if got, sub := ForModelType(r1, "qwen2"); got != r1 || sub {
		t.Error("an R1 vocabulary was changed")
	}
	q3 := ByteLevelQwen3()
	if got, sub := ForModelType(q3, "qwen3"); got != q3 || sub {
		t.Error("a Qwen3 model's Qwen vocabulary got R1's tokens")
	}
	q := qwen(t)
	got, sub := ForModelType(q, "qwen2")
	if !sub {
		t.Fatal("the Qwen2.5 vocabulary did not get R1's tokens")
	}
	if id, ok := got.TokenID("<｜begin▁of▁sentence｜>"); !ok || id != 151646 {
		t.Errorf("R1 BOS at %d (%v), want 151646", id, ok)
	}
	if _, sub := ForModelType(q, "qwen3"); sub {
		t.Error("a Qwen3 model's vocabulary got R1's tokens")
	}
}

func TestForNewModel(t *testing.T) {
	b, sub, err := ForNewModel("", "qwen3")
	if err != nil || sub || b.VocabSize() != ByteLevelQwen3().VocabSize() {
		t.Errorf("no path: %d tokens, substituted %v, %v", b.VocabSize(), sub, err)
	}
	dir := t.TempDir()
	if err := ByteLevelR1().WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	b, sub, err = ForNewModel(dir, "qwen2")
	if err != nil || sub {
		t.Fatalf("an R1 vocabulary: substituted %v, %v", sub, err)
	}
	if _, ok := b.TokenID("<think>"); !ok {
		t.Error("the loaded vocabulary lost <think>")
	}
	q := shareddata.Path(t, "qwen2.5-tokenizer")
	if _, sub, err := ForNewModel(q, "qwen2"); err != nil || !sub {
		t.Errorf("Qwen2.5 for a qwen2 model: substituted %v, %v", sub, err)
	}
	if _, _, err := ForNewModel(filepath.Join(dir, "missing"), "qwen2"); err == nil {
		t.Error("a missing tokenizer was no error")
	}
}
