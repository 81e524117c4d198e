package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Plain-text pre-training data: documents without a chat template, where
// every token is a target. This is the 预训练 stage (next-token prediction
// on raw text) as opposed to supervised fine-tuning on conversations.
//
// Sources: a .txt or .md file (one document), or JSON/JSONL rows with a
// "text" field (one document per row). Documents are tokenized, joined
// with the end-of-sequence token between them so the model learns where a
// text ends, and the stream is cut into windows of maxSeq tokens; unlike
// SFT examples, which are truncated, no text is thrown away.

// IsTextFile reports whether path is read as one plain-text document.
func IsTextFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt", ".md", ".markdown":
		return true
	}
	return false
}

// ReadTextFile reads a .txt/.md file as one pre-training document.
func ReadTextFile(path string) ([]Example, Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("read training text: %w", err)
	}
	text := strings.TrimPrefix(string(b), "\ufeff")
	if strings.TrimSpace(text) == "" {
		return nil, Stats{Rows: 1}, fmt.Errorf("%s: the file is empty", path)
	}
	return []Example{{Text: text, Source: path}}, Stats{Rows: 1}, nil
}

// textRow is a {"text": ...} row; other keys (id, url, meta) are ignored.
func textRow(s string) ([]Example, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%q is empty", "text")
	}
	return []Example{{Text: s}}, nil
}

// eosEncoder is what packing needs beyond Encode: the id that separates
// documents (tokenizer.BPE has it).
type eosEncoder interface {
	EOS() int
}

// EncodeText tokenizes plain-text examples into one stream, EOS after each
// document, and cuts it into windows of maxSeq tokens with a label on every
// token. The last window is kept if it holds at least two tokens (one
// prediction). Chat examples in exs are an error: mixing the two in one
// file is almost always a mistake in preparing the data.
func EncodeText(exs []Example, enc Encoder, maxSeq int) ([]Sample, error) {
	if maxSeq < 2 {
		return nil, fmt.Errorf("plain-text training needs a maximum sequence length of at least 2 (got %d)", maxSeq)
	}
	eos := -1
	if e, ok := enc.(eosEncoder); ok {
		eos = e.EOS()
	}
	var stream []int32
	var srcs []string // source of the document each window starts in
	starts := []int{}
	for _, ex := range exs {
		if ex.Text == "" {
			return nil, fmt.Errorf("%s: a chat example among plain-text documents (use one kind of data per file)", ex.Source)
		}
		starts = append(starts, len(stream))
		srcs = append(srcs, ex.Source)
		for _, id := range enc.Encode(ex.Text, false) {
			stream = append(stream, int32(id))
		}
		if eos >= 0 {
			stream = append(stream, int32(eos))
		}
	}
	var out []Sample
	doc := 0
	for lo := 0; lo+1 < len(stream); lo += maxSeq {
		hi := min(lo+maxSeq, len(stream))
		for doc+1 < len(starts) && starts[doc+1] <= lo {
			doc++
		}
		toks := append([]int32(nil), stream[lo:hi]...)
		out = append(out, Sample{Tokens: toks, Labels: append([]int32(nil), toks...), Source: srcs[doc]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the plain-text documents hold fewer than two tokens")
	}
	return out, nil
}

// hasText reports whether any example is a plain-text document.
func hasText(exs []Example) bool {
	for _, ex := range exs {
		if ex.Text != "" {
			return true
		}
	}
	return false
}
