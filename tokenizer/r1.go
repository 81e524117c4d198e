package tokenizer

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
