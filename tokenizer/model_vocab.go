package tokenizer

// ByteLevelFor is the byte-level vocabulary of a model family in its
// real format, for a new model without a trained vocabulary:
// R1-Distill-Llama's special tokens with Llama 3's pre-tokenizer for
// "llama", Qwen3's ChatML tokens for "qwen3", R1-Distill-Qwen's for
// anything else.
func ByteLevelFor(modelType string) *BPE {
	switch modelType {
	case "llama":
		return ByteLevelLlama3R1()
	case "qwen3":
		return ByteLevelQwen3()
	default:
		return ByteLevelR1()
	}
}

// ForModelType adapts a loaded vocabulary to a model family, as the R1
// distills ship it: a Qwen vocabulary without R1's special tokens gets
// them (R1FromQwen) unless the model is a Qwen3, which keeps Qwen's own;
// Meta's Llama 3 vocabulary gets R1-Distill-Llama's (R1FromLlama3) for a
// Llama model. It reports whether it substituted them.
func ForModelType(b *BPE, modelType string) (*BPE, bool) {
	if _, ok := b.TokenID(r1BOS); ok {
		return b, false
	}
	if _, isQwen := b.TokenID(qwenEndOfText); isQwen && modelType != "qwen3" {
		return R1FromQwen(b), true
	}
	if modelType == "llama" {
		if r, err := R1FromLlama3(b); err == nil {
			return r, true
		}
	}
	return b, false
}

// ForNewModel is the vocabulary of a new model of modelType: the family's
// byte-level one (ByteLevelFor) when path is "", else the tokenizer at
// path adapted to the family (ForModelType), reporting whether R1's
// special tokens were substituted.
func ForNewModel(path, modelType string) (*BPE, bool, error) {
	if path == "" {
		return ByteLevelFor(modelType), false, nil
	}
	b, err := Load(path)
	if err != nil {
		return nil, false, err
	}
	b, substituted := ForModelType(b, modelType)
	return b, substituted, nil
}
