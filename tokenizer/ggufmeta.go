package tokenizer

import (
	"errors"
	"fmt"
	"strings"
)

// llama.cpp token types (tokenizer.ggml.token_type).
const (
	TokenNormal      = 1
	TokenUnknown     = 2
	TokenControl     = 3
	TokenUserDefined = 4
	TokenUnused      = 5
	TokenByte        = 6
)

// FromGGUFMetadata builds a tokenizer from GGUF tokenizer.ggml.* metadata
// (as read by package gguf): model "gpt2" gives a *BPE, "bert" a
// *WordPiece. Control (3) and user-defined (4) tokens become added tokens,
// matched in text as llama.cpp does.
func FromGGUFMetadata(md map[string]any) (Tokenizer, error) {
	model, _ := md["tokenizer.ggml.model"].(string)
	toks, err := stringList(md["tokenizer.ggml.tokens"])
	if err != nil {
		return nil, fmt.Errorf("GGUF tokenizer.ggml.tokens: %w", err)
	}
	if len(toks) == 0 {
		return nil, errors.New("GGUF metadata has no tokenizer.ggml.tokens: the file carries no vocabulary")
	}
	types, err := intList(md["tokenizer.ggml.token_type"])
	if err != nil {
		return nil, fmt.Errorf("GGUF tokenizer.ggml.token_type: %w", err)
	}
	if types != nil && len(types) != len(toks) {
		return nil, fmt.Errorf("GGUF tokenizer.ggml.token_type has %d entries for %d tokens", len(types), len(toks))
	}
	id := func(key string) int {
		if v, ok := uintValue(md["tokenizer.ggml."+key]); ok && v < uint64(len(toks)) {
			return int(v)
		}
		return -1
	}
	switch model {
	case "gpt2":
		return bpeFromGGUF(md, toks, types, id)
	case "bert":
		return wordPieceFromGGUF(toks, id)
	case "":
		return nil, errors.New("GGUF metadata has no tokenizer.ggml.model")
	}
	return nil, fmt.Errorf("GGUF tokenizer model %q is not supported (ragtune reads \"gpt2\" byte-level BPE and \"bert\" WordPiece)", model)
}

func bpeFromGGUF(md map[string]any, toks []string, types []int, id func(string) int) (*BPE, error) {
	pre, _ := md["tokenizer.ggml.pre"].(string)
	sp := bpeSpec{vocab: make(map[string]int, len(toks)), pre: pre}
	switch pre {
	case "qwen2", "deepseek-r1-qwen":
		sp.pattern, sp.nfc = Qwen2Pattern, true
	case "llama-bpe", "llama3":
		// llama.cpp treats Llama 3 vocabularies as ignore_merges.
		sp.pattern, sp.ignoreMerges = Llama3Pattern, true
	case "gpt2", "default", "":
		sp.pattern = GPT2Pattern
		if pre == "" {
			sp.pre = "default"
		}
	default:
		return nil, fmt.Errorf("GGUF pre-tokenizer %q is not supported (known: qwen2, deepseek-r1-qwen, llama-bpe, gpt2)", pre)
	}
	for i, t := range toks {
		typ := TokenNormal
		if types != nil {
			typ = types[i]
		}
		switch typ {
		case TokenControl, TokenUserDefined:
			sp.added = append(sp.added, AddedToken{ID: i, Content: t, Special: typ == TokenControl})
		case TokenUnused:
			// padding rows: no text maps to them
		default:
			if _, dup := sp.vocab[t]; !dup {
				sp.vocab[t] = i
			}
		}
	}
	merges, err := stringList(md["tokenizer.ggml.merges"])
	if err != nil {
		return nil, fmt.Errorf("GGUF tokenizer.ggml.merges: %w", err)
	}
	for i, m := range merges {
		a, b, ok := strings.Cut(m, " ")
		if !ok {
			return nil, fmt.Errorf("GGUF tokenizer.ggml.merges[%d] = %q is not \"left right\"", i, m)
		}
		sp.merges = append(sp.merges, [2]string{a, b})
	}
	sp.bos, sp.eos, sp.pad = id("bos_token_id"), id("eos_token_id"), id("padding_token_id")
	sp.addBOS, _ = md["tokenizer.ggml.add_bos_token"].(bool)
	sp.addEOS, _ = md["tokenizer.ggml.add_eos_token"].(bool)
	b, err := newBPE(sp)
	if err != nil {
		return nil, fmt.Errorf("GGUF vocabulary: %w", err)
	}
	b.ChatTemplate, _ = md["tokenizer.chat_template"].(string)
	return b, nil
}

// wordPieceFromGGUF undoes llama.cpp's "phantom space" form of BERT
// vocabularies: word-initial pieces carry a leading U+2581, continuation
// pieces lose their "##", bracketed specials stay as they are.
func wordPieceFromGGUF(toks []string, id func(string) int) (*WordPiece, error) {
	hf := make([]string, len(toks))
	for i, t := range toks {
		switch {
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			hf[i] = t
		case strings.HasPrefix(t, "\u2581"):
			hf[i] = strings.TrimPrefix(t, "\u2581")
		default:
			hf[i] = "##" + t
		}
	}
	w, err := NewWordPiece(hf, DefaultWordPieceOptions())
	if err != nil {
		return nil, fmt.Errorf("GGUF vocabulary: %w", err)
	}
	pick := func(cur int, keys ...string) int {
		for _, k := range keys {
			if v := id(k); v >= 0 {
				return v
			}
		}
		return cur
	}
	w.unk = pick(w.unk, "unknown_token_id")
	w.cls = pick(w.cls, "cls_token_id", "bos_token_id")
	w.sep = pick(w.sep, "seperator_token_id", "eos_token_id")
	w.pad = pick(w.pad, "padding_token_id")
	w.mask = pick(w.mask, "mask_token_id")
	return w, nil
}

// GGUFMetadata returns the tokenizer.ggml.* keys that describe b, for a
// GGUF writer: tokens in id order, their llama.cpp types, merges as
// "left right", the pre-tokenizer name, special ids and add_bos_token.
// Added tokens are control tokens (3) when special or when they look like
// control markers (<|…|>, <｜…｜>), as llama.cpp's converter decides, else
// user-defined (4). Ids no token uses are written as [PADn], unused (5).
func (b *BPE) GGUFMetadata() map[string]any {
	n := len(b.tokens)
	toks := make([]string, n)
	types := make([]int32, n)
	for i := 0; i < n; i++ {
		toks[i], types[i] = b.tokens[i], TokenNormal
		if toks[i] == "" && b.tokenBytes[i] == nil {
			toks[i], types[i] = fmt.Sprintf("[PAD%d]", i), TokenUnused
		}
	}
	for _, a := range b.added {
		types[a.ID] = TokenUserDefined
		if a.Special || looksControl(a.Content) {
			types[a.ID] = TokenControl
		}
	}
	merges := make([]string, len(b.mergeList))
	for i, m := range b.mergeList {
		merges[i] = m[0] + " " + m[1]
	}
	pre := b.pre
	if pre == "" {
		pre = "default"
	}
	md := map[string]any{
		"tokenizer.ggml.model":         "gpt2",
		"tokenizer.ggml.pre":           pre,
		"tokenizer.ggml.tokens":        toks,
		"tokenizer.ggml.token_type":    types,
		"tokenizer.ggml.merges":        merges,
		"tokenizer.ggml.add_bos_token": b.addBOS,
		"tokenizer.ggml.add_eos_token": b.addEOS,
	}
	for key, v := range map[string]int{"bos_token_id": b.bos, "eos_token_id": b.eos, "padding_token_id": b.pad} {
		if v >= 0 {
			md["tokenizer.ggml."+key] = uint32(v)
		}
	}
	if b.ChatTemplate != "" {
		md["tokenizer.chat_template"] = b.ChatTemplate
	}
	return md
}

func looksControl(s string) bool {
	return (strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")) ||
		(strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>"))
}

func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is %T, not a string", i, e)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("is %T, not a string array", v)
}

func intList(v any) ([]int, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []int32:
		out := make([]int, len(x))
		for i, e := range x {
			out[i] = int(e)
		}
		return out, nil
	case []uint32:
		out := make([]int, len(x))
		for i, e := range x {
			out[i] = int(e)
		}
		return out, nil
	case []int:
		return x, nil
	case []any:
		out := make([]int, len(x))
		for i, e := range x {
			u, ok := uintValue(e)
			if !ok {
				return nil, fmt.Errorf("element %d is %T, not an integer", i, e)
			}
			out[i] = int(u)
		}
		return out, nil
	}
	return nil, fmt.Errorf("is %T, not an integer array", v)
}

func uintValue(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	case int:
		return uint64(x), x >= 0
	}
	return 0, false
}
