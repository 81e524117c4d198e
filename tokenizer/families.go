package tokenizer

// Byte-level vocabularies for the tiny Llama 3 and Qwen3 test models, as
// ByteLevelR1 is for Qwen2: 256 single-byte tokens (id = byte value), the
// family's added tokens from 256 on, no merges, and the family's
// pre-tokenizer, so every text encodes and splits as the real vocabulary
// splits it.

// Qwen3's added tokens that its chat format needs.
const (
	qwenEndOfText = "<|endoftext|>"
	qwenIMStart   = "<|im_start|>"
	qwenIMEnd     = "<|im_end|>"
)

// llama3R1 is R1-Distill-Llama's text handling: Llama 3's split regex
// (numbers in groups of up to three digits), no normalizer, ignore_merges,
// llama.cpp's "llama-bpe" pre-tokenizer, R1's BOS and EOS.
var llama3R1 = byteStyle{pattern: Llama3Pattern, ignore: true, pre: "llama-bpe", bos: r1BOS, eos: r1EOS, pad: r1EOS}

// qwen3Style is Qwen3's: the Qwen2 split regex and NFC, no BOS, EOS
// <|im_end|> (the end of a chat turn), padding <|endoftext|>.
var qwen3Style = byteStyle{pattern: Qwen2Pattern, nfc: true, pre: "qwen2", eos: qwenIMEnd, pad: qwenEndOfText}

// ByteLevelLlama3R1 returns the byte-level tokenizer in the format of
// DeepSeek-R1-Distill-Llama: R1's seven added tokens at 256–262 in
// ByteLevelR1's order (256 EOS, 257 <｜User｜>, 258 <｜Assistant｜>, 259
// BOS, 260 <|EOT|>, 261 <think>, 262 </think>), BOS prepended, and the
// Llama 3 pre-tokenizer.
func ByteLevelLlama3R1() *BPE {
	b, err := buildByteVocabAs(llama3R1, nil, R1SpecialTokens())
	if err != nil {
		panic(err) // fixed input; cannot fail
	}
	return b
}

// Qwen3SpecialTokens are the added tokens of ByteLevelQwen3, in id order
// from 256: <|endoftext|>, <|im_start|>, <|im_end|> (special, as in
// Qwen3's tokenizer.json), <think>, </think> (plain added tokens).
func Qwen3SpecialTokens() []AddedToken {
	return []AddedToken{
		{Content: qwenEndOfText, Special: true},
		{Content: qwenIMStart, Special: true},
		{Content: qwenIMEnd, Special: true},
		{Content: r1Think},
		{Content: r1EndThink},
	}
}

// ByteLevelQwen3 returns the byte-level tokenizer in Qwen3's format
// (see Qwen3SpecialTokens): no BOS, EOS <|im_end|>.
func ByteLevelQwen3() *BPE {
	b, err := buildByteVocabAs(qwen3Style, nil, Qwen3SpecialTokens())
	if err != nil {
		panic(err) // fixed input; cannot fail
	}
	return b
}
