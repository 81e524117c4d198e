// Package tokenizer turns text into token ids and back for the models
// ragtune runs: byte-level BPE (Qwen2.5 and DeepSeek-R1-Distill-Qwen,
// loaded from an HF tokenizer.json or from GGUF vocabulary metadata, or
// trained here on a corpus) and WordPiece (BERT/bge embedding models).
//
// Encoding follows Hugging Face tokenizers exactly (added tokens matched
// first, NFC, the Qwen2 pre-tokenizer split, byte-level BPE with the
// reference's merge order), which is what llama.cpp's conformance vectors
// check. The Qwen2 split is hand-written (it is the hot path); other split
// patterns (GPT-2, Llama 3) run through regexp2. Tokenizers are safe for
// concurrent use and cache the BPE result of each word.
//
// It is not a general tokenizer zoo: SentencePiece/Unigram models are not
// supported, and chat formatting lives in package llm/chat.
package tokenizer

// Tokenizer is what the model, training and retrieval code needs from a
// vocabulary; both *BPE and *WordPiece satisfy it.
type Tokenizer interface {
	// Encode returns the ids of text; addSpecial adds the tokens the
	// model's configuration asks for (BOS for R1-Distill, [CLS]/[SEP] for BERT).
	Encode(text string, addSpecial bool) []int
	// Decode turns ids back into text.
	Decode(ids []int) string
	// VocabSize is one more than the largest id.
	VocabSize() int
}
