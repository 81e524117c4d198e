package chat

import "ragtune/tokenizer"

// TemplateForVocab is the chat template a vocabulary's model ships with,
// judged by its special tokens: R1's for a vocabulary with
// <｜Assistant｜>, Qwen3's for ChatML with <think>, Qwen2.5's for ChatML
// without; "" for a vocabulary that has none of them.
func TemplateForVocab(b *tokenizer.BPE) string {
	if _, ok := b.TokenID("<｜Assistant｜>"); ok {
		return R1Template
	}
	if _, ok := b.TokenID("<|im_start|>"); ok {
		if _, think := b.TokenID("<think>"); think {
			return Qwen3Template
		}
		return QwenTemplate
	}
	return ""
}
