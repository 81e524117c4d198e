package chat

import (
	"testing"

	"ragtune/tokenizer"
)

func TestTemplateForVocab(t *testing.T) {
	if got := TemplateForVocab(tokenizer.ByteLevelR1()); got != R1Template {
		t.Error("an R1 vocabulary did not get R1's template")
	}
	if got := TemplateForVocab(tokenizer.ByteLevelLlama3R1()); got != R1Template {
		t.Error("R1-Distill-Llama's vocabulary did not get R1's template")
	}
	if got := TemplateForVocab(tokenizer.ByteLevelQwen3()); got != Qwen3Template {
		t.Error("a Qwen3 vocabulary (ChatML with <think>) did not get Qwen3's template")
	}
	bare, err := tokenizer.TrainBPE([]string{"hello hello world"}, 260)
	if err != nil {
		t.Fatal(err)
	}
	if got := TemplateForVocab(bare); got != "" {
		t.Errorf("a bare byte-level vocabulary got a template: %.40q", got)
	}
	chatml, err := tokenizer.TrainBPE([]string{"hello hello world"}, 260, tokenizer.AddedToken{Content: "<|im_start|>", Special: true}, tokenizer.AddedToken{Content: "<|im_end|>", Special: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := TemplateForVocab(chatml); got != QwenTemplate {
		t.Error("ChatML without <think> did not get Qwen2.5's template")
	}
}
