package gguf

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"ragtune/weights"
)

// FileType is llama.cpp's general.file_type for a uniform tensor type.
func FileType(d weights.DType) (uint32, bool) {
	switch d {
	case weights.F32:
		return 0, true
	case weights.F16:
		return 1, true
	case weights.Q4_0:
		return 2, true
	case weights.Q8_0:
		return 7, true
	case weights.BF16:
		return 32, true
	}
	return 0, false
}

// tokenTypeUnused is llama.cpp's token type for padding entries.
const tokenTypeUnused = 5

// AddTokenizer adds the tokenizer.* keys in meta (tokenizer.ggml.model,
// tokens, merges, ...), normalizing Go ints to the types llama.cpp checks
// (token ids uint32, token types int32) and padding the vocabulary to
// vocabSize entries with "[PADn]" tokens of type UNUSED, as llama.cpp
// requires one token per embedding row.
func (w *Writer) AddTokenizer(meta map[string]any, vocabSize int) error {
	if len(meta) == 0 {
		return nil
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if !strings.HasPrefix(k, "tokenizer.") {
			return fmt.Errorf("tokenizer metadata key %q does not start with \"tokenizer.\"", k)
		}
		keys = append(keys, k)
	}
	// llama.cpp's writer emits tokenizer.ggml.model first; then a stable
	// order keeps our files reproducible.
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := keys[i] == "tokenizer.ggml.model", keys[j] == "tokenizer.ggml.model"
		if pi != pj {
			return pi
		}
		return keys[i] < keys[j]
	})
	toks, _ := meta["tokenizer.ggml.tokens"].([]string)
	pad := 0
	if toks != nil && len(toks) < vocabSize {
		pad = vocabSize - len(toks)
	}
	for _, k := range keys {
		v := meta[k]
		switch {
		case strings.HasSuffix(k, "_token_id"):
			n, ok := asUint32(v)
			if !ok {
				return fmt.Errorf("tokenizer metadata %q: %v (%T) is not a token id", k, v, v)
			}
			v = n
		case k == "tokenizer.ggml.tokens" && pad > 0:
			padded := append(make([]string, 0, vocabSize), toks...)
			for i := len(toks); i < vocabSize; i++ {
				padded = append(padded, fmt.Sprintf("[PAD%d]", i))
			}
			v = padded
		case k == "tokenizer.ggml.token_type":
			tt, err := int32s(v)
			if err != nil {
				return fmt.Errorf("tokenizer metadata %q: %w", k, err)
			}
			for len(tt) < len(toks)+pad {
				tt = append(tt, tokenTypeUnused)
			}
			v = tt
		case k == "tokenizer.ggml.scores" && pad > 0:
			sc, ok := v.([]float32)
			if !ok {
				return fmt.Errorf("tokenizer metadata %q must be []float32, is %T", k, v)
			}
			v = append(append([]float32(nil), sc...), make([]float32, pad)...)
		}
		if err := w.AddMetadata(k, v); err != nil {
			return err
		}
	}
	return nil
}

func asUint32(v any) (uint32, bool) {
	switch x := v.(type) {
	case int:
		return uint32(x), x >= 0 && x <= math.MaxUint32
	case int32:
		return uint32(x), x >= 0
	case int64:
		return uint32(x), x >= 0 && x <= math.MaxUint32
	case uint32:
		return x, true
	case uint64:
		return uint32(x), x <= math.MaxUint32
	}
	return 0, false
}

func int32s(v any) ([]int32, error) {
	switch x := v.(type) {
	case []int32:
		return append([]int32(nil), x...), nil
	case []int:
		out := make([]int32, len(x))
		for i, e := range x {
			out[i] = int32(e)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want []int32, got %T", v)
}
