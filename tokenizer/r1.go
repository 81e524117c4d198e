package tokenizer

import "fmt"

// The DeepSeek-R1-Distill-Qwen added tokens that replace Qwen2.5's
// 151643–151649 (see DESIGN.md).
const (
	r1EOS       = "<｜end▁of▁sentence｜>"
	r1User      = "<｜User｜>"
	r1Assistant = "<｜Assistant｜>"
	r1BOS       = "<｜begin▁of▁sentence｜>"
	r1EOT       = "<|EOT|>"
	r1Think     = "<think>"
	r1EndThink  = "</think>"
)

// r1Added lists R1's replacement tokens in id order. The special and
// normalized flags are those of the published R1-Distill tokenizer.json:
// only EOS and BOS are special; <think> and friends are plain added tokens.
var r1Added = []AddedToken{
	{Content: r1EOS, Special: true},
	{Content: r1User, Normalized: true},
	{Content: r1Assistant, Normalized: true},
	{Content: r1BOS, Special: true, Normalized: true},
	{Content: r1EOT, Normalized: true},
	{Content: r1Think, Normalized: true},
	{Content: r1EndThink, Normalized: true},
}

// R1FirstAddedID is the id of R1's first replacement token
// (<｜end▁of▁sentence｜>); the other six follow it.
const R1FirstAddedID = 151643

// R1FromQwen returns the DeepSeek-R1-Distill-Qwen tokenizer built from
// the Qwen2.5 one: the same vocabulary and merges, added tokens
// 151643–151649 replaced by R1's (EOS, <｜User｜>, <｜Assistant｜>, BOS,
// <|EOT|>, <think>, </think>), BOS prepended when encoding with special
// tokens, EOS and padding = <｜end▁of▁sentence｜>. Qwen's other added
// tokens (151650 onward) are kept, as in the published R1 tokenizer.
func R1FromQwen(q *BPE) *BPE {
	var added []AddedToken
	for i, a := range r1Added {
		a.ID = R1FirstAddedID + i
		added = append(added, a)
	}
	for _, a := range q.added {
		if a.ID < R1FirstAddedID || a.ID >= R1FirstAddedID+len(r1Added) {
			added = append(added, *a)
		}
	}
	r := q.withAdded(added)
	r.bos, r.eos, r.pad = R1FirstAddedID+3, R1FirstAddedID, R1FirstAddedID
	r.addBOS, r.addEOS = true, false
	r.pre = "deepseek-r1-qwen"
	r.ChatTemplate = ""
	return r
}

// withAdded returns a copy of b sharing its vocabulary and merges but
// with a different set of added tokens.
func (b *BPE) withAdded(added []AddedToken) *BPE {
	size := len(b.tokens)
	for _, a := range added {
		size = max(size, min(a.ID+1, maxVocab))
	}
	r := &BPE{
		tokens:       make([]string, size),
		tokenBytes:   make([][]byte, size),
		vocab:        b.vocab,
		merges:       b.merges,
		mergeList:    b.mergeList,
		byteIDs:      b.byteIDs,
		addedByID:    map[int]*AddedToken{},
		nfc:          b.nfc,
		pattern:      b.pattern,
		split:        b.split,
		qwenSplit:    b.qwenSplit,
		ignoreMerges: b.ignoreMerges,
		prefixSpace:  b.prefixSpace,
		bos:          b.bos, eos: b.eos, pad: b.pad,
		addBOS: b.addBOS, addEOS: b.addEOS,
		pre:          b.pre,
		ChatTemplate: b.ChatTemplate,
	}
	copy(r.tokens, b.tokens)
	copy(r.tokenBytes, b.tokenBytes)
	for _, a := range b.added { // ids that only the old added tokens used
		r.tokens[a.ID], r.tokenBytes[a.ID] = "", nil
	}
	for tok, id := range b.vocab { // an added token may have shadowed a vocabulary entry
		if r.tokens[id] == "" {
			r.tokens[id], r.tokenBytes[id] = tok, byteLevelDecode(tok)
		}
	}
	var raw, normd []*AddedToken
	for i := range added {
		a := added[i]
		at := &a
		r.added = append(r.added, at)
		r.addedByID[a.ID] = at
		r.tokens[a.ID], r.tokenBytes[a.ID] = a.Content, []byte(a.Content)
		if a.Normalized && r.nfc {
			normd = append(normd, at)
		} else {
			raw = append(raw, at)
		}
	}
	sortAdded(r.added)
	r.rawAdded, r.normAdded = newAddedMatcher(raw), newAddedMatcher(normd)
	// Trim trailing ids that no token uses any more.
	for len(r.tokens) > 0 && r.tokens[len(r.tokens)-1] == "" && r.tokenBytes[len(r.tokens)-1] == nil {
		r.tokens, r.tokenBytes = r.tokens[:len(r.tokens)-1], r.tokenBytes[:len(r.tokenBytes)-1]
	}
	r.cache.init()
	return r
}

// r1Pad is R1-Distill-Llama's padding token (its config pads with EOS).
const r1Pad = "<｜▁pad▁｜>"

// llama3BOS is the first added token of Meta's Llama 3 vocabulary, which
// R1-Distill-Llama's tokenizer renames.
const llama3BOS = "<|begin_of_text|>"

// r1LlamaAdded are the tokens DeepSeek-R1-Distill-Llama (8B, on Llama 3.1,
// and 70B, on Llama 3.3) writes over Llama 3's special and reserved
// tokens: BOS 128000 and EOS 128001 (its config.json's bos/eos_token_id),
// and the chat and reasoning tokens in the reserved run from 128011. As in
// R1-Distill-Qwen, only BOS, EOS (and padding) are special; <｜User｜>,
// <think> and friends are plain added tokens. Llama's other specials
// (<|start_header_id|>, <|eot_id|>, the remaining reserved tokens) stay as
// the Llama 3 vocabulary has them.
var r1LlamaAdded = []AddedToken{
	{ID: 128000, Content: r1BOS, Special: true, Normalized: true},
	{ID: 128001, Content: r1EOS, Special: true},
	{ID: 128011, Content: r1User, Normalized: true},
	{ID: 128012, Content: r1Assistant, Normalized: true},
	{ID: 128013, Content: r1Think, Normalized: true},
	{ID: 128014, Content: r1EndThink, Normalized: true},
	{ID: 128015, Content: r1Pad, Special: true, Normalized: true},
}

// R1FromLlama3 returns the DeepSeek-R1-Distill-Llama tokenizer built from
// Meta's Llama 3 one: the same vocabulary, merges and pre-tokenizer, the
// added tokens of r1LlamaAdded written over Llama's at those ids, BOS
// prepended when encoding with special tokens, EOS and padding
// <｜end▁of▁sentence｜>, and no chat template (R1's goes with it; see
// llm/chat.TemplateForVocab). It fails on a vocabulary that is not Llama
// 3's (no <|begin_of_text|> at 128000).
func R1FromLlama3(l *BPE) (*BPE, error) {
	if id, ok := l.TokenID(llama3BOS); !ok || id != r1LlamaAdded[0].ID {
		return nil, fmt.Errorf("R1-Distill-Llama's special tokens go over Llama 3's: this vocabulary has no %s at id %d (got %d, %v)", llama3BOS, r1LlamaAdded[0].ID, id, ok)
	}
	replaced := map[int]bool{}
	added := append([]AddedToken(nil), r1LlamaAdded...)
	for _, a := range r1LlamaAdded {
		replaced[a.ID] = true
	}
	for _, a := range l.added {
		if !replaced[a.ID] {
			added = append(added, *a)
		}
	}
	r := l.withAdded(added)
	r.bos, r.eos, r.pad = r1LlamaAdded[0].ID, r1LlamaAdded[1].ID, r1LlamaAdded[1].ID
	r.addBOS, r.addEOS = true, false
	r.pre = "llama-bpe"
	r.ChatTemplate = ""
	return r, nil
}
