package tokenizer

import "testing"

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
