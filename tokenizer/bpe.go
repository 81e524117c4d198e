package tokenizer

import (
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// BPE is a byte-level BPE tokenizer. It is immutable after construction
// and safe for concurrent use; the per-word cache is internally locked.
type BPE struct {
	tokens     []string // id → vocabulary string (byte-level form; added tokens as written)
	tokenBytes [][]byte // id → the bytes the token decodes to
	vocab      map[string]int32
	merges     map[uint64]mergeVal
	mergeList  [][2]string // rank order, for writing the vocabulary out
	byteIDs    [256]int32  // id of each single byte, -1 if the vocabulary lacks it

	added     []*AddedToken // sorted by id
	addedByID map[int]*AddedToken
	rawAdded  *addedMatcher // tokens matched before normalization
	normAdded *addedMatcher // tokens matched after NFC
	nfc       bool
	pattern   string
	split     splitFunc
	qwenSplit bool // split is splitQwen2
	// ignoreMerges: a pre-token that is a vocabulary entry becomes that
	// token without merging (HF ignore_merges, used by Llama 3).
	ignoreMerges bool
	prefixSpace  bool // ByteLevel add_prefix_space

	bos, eos, pad  int
	addBOS, addEOS bool
	pre            string // GGUF tokenizer.ggml.pre name

	// ChatTemplate is the Jinja chat template from tokenizer_config.json
	// (or GGUF tokenizer.chat_template); WriteConfig writes it back.
	ChatTemplate string

	cache wordCache
}

// maxVocab bounds ids read from files, so a corrupt id cannot make us
// allocate gigabytes (real vocabularies are at most a few hundred thousand).
const maxVocab = 1 << 22

type mergeVal struct {
	rank int32
	id   int32 // id of the merged token
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeSpec is everything needed to build a BPE, whatever file it came from.
type bpeSpec struct {
	vocab          map[string]int // byte-level token → id (model vocabulary, no added tokens)
	merges         [][2]string
	added          []AddedToken
	nfc            bool
	pattern        string
	prefixSp       bool
	bos, eos, pad  int
	addBOS, addEOS bool
	pre            string
	ignoreMerges   bool // a word that is itself a token is not merged (Llama 3)
}

func newBPE(sp bpeSpec) (*BPE, error) {
	size := 0
	for _, id := range sp.vocab {
		if id < 0 {
			return nil, fmt.Errorf("negative token id %d", id)
		}
		size = max(size, id+1)
	}
	for _, a := range sp.added {
		if a.ID < 0 {
			return nil, fmt.Errorf("added token %q has negative id %d", a.Content, a.ID)
		}
		size = max(size, a.ID+1)
	}
	if size > maxVocab {
		return nil, fmt.Errorf("token id %d is beyond the largest supported vocabulary (%d)", size-1, maxVocab)
	}
	b := &BPE{
		tokens:      make([]string, size),
		tokenBytes:  make([][]byte, size),
		vocab:       make(map[string]int32, len(sp.vocab)),
		merges:      make(map[uint64]mergeVal, len(sp.merges)),
		addedByID:   map[int]*AddedToken{},
		nfc:         sp.nfc,
		pattern:     sp.pattern,
		prefixSpace: sp.prefixSp,
		bos:         sp.bos, eos: sp.eos, pad: sp.pad,
		addBOS: sp.addBOS, addEOS: sp.addEOS,
		pre: sp.pre, ignoreMerges: sp.ignoreMerges,
	}
	// All token bytes share one backing array: one allocation instead of
	// one per token.
	total := 0
	for tok := range sp.vocab {
		total += len(tok)
	}
	arena := make([]byte, 0, total)
	for tok, id := range sp.vocab {
		b.vocab[tok] = int32(id)
		b.tokens[id] = tok
		start := len(arena)
		arena = appendByteLevelDecode(arena, tok)
		b.tokenBytes[id] = arena[start:len(arena):len(arena)]
	}
	for i := range b.byteIDs {
		b.byteIDs[i] = -1
		if id, ok := b.vocab[byteStr[i]]; ok {
			b.byteIDs[i] = id
		}
	}
	var cat []byte
	for rank, m := range sp.merges {
		l, okl := b.vocab[m[0]]
		r, okr := b.vocab[m[1]]
		cat = append(append(cat[:0], m[0]...), m[1]...)
		res, okm := b.vocab[string(cat)] // no allocation for a map key conversion
		if !okl || !okr || !okm {
			return nil, fmt.Errorf("merge %d (%q %q) uses a token missing from the vocabulary", rank, m[0], m[1])
		}
		k := pairKey(l, r)
		if _, dup := b.merges[k]; !dup { // the first (best) rank wins
			b.merges[k] = mergeVal{rank: int32(rank), id: res}
		}
	}
	b.mergeList = sp.merges
	var raw, normd []*AddedToken
	for i := range sp.added {
		a := sp.added[i]
		at := &a
		b.added = append(b.added, at)
		b.addedByID[a.ID] = at
		b.tokens[a.ID] = a.Content
		b.tokenBytes[a.ID] = []byte(a.Content)
		if a.Normalized && b.nfc {
			normd = append(normd, at)
		} else {
			raw = append(raw, at)
		}
	}
	sortAdded(b.added)
	b.rawAdded = newAddedMatcher(raw)
	b.normAdded = newAddedMatcher(normd)
	if sp.pattern == Qwen2Pattern {
		b.split, b.qwenSplit = splitQwen2, true
	} else if sp.pattern != "" {
		f, err := regexSplitter(sp.pattern)
		if err != nil {
			return nil, err
		}
		b.split = f
	} else {
		b.split = func(s string, emit func(string)) { emit(s) }
	}
	for _, id := range []int{sp.bos, sp.eos, sp.pad} {
		if id >= size {
			return nil, fmt.Errorf("special token id %d outside the vocabulary (size %d)", id, size)
		}
	}
	b.cache.init()
	return b, nil
}

// EncodeOptions control Encode beyond the common case.
type EncodeOptions struct {
	// AddSpecial prepends BOS (and appends EOS) when the tokenizer's
	// configuration asks for it.
	AddSpecial bool
	// ParseSpecial recognises special (control) added tokens in the text.
	// Encode turns it on, as HF does; turn it off for untrusted text so a
	// user cannot type <｜end▁of▁sentence｜>. Non-special added tokens
	// such as <think> are always recognised.
	ParseSpecial bool
}

// Encode returns the token ids of text. Added tokens in the text (special
// ones included) become their single ids, as in HF tokenizers.
func (b *BPE) Encode(text string, addSpecial bool) []int {
	return b.EncodeWith(text, EncodeOptions{AddSpecial: addSpecial, ParseSpecial: true})
}

var skipSpecial = func(t *AddedToken) bool { return t.Special }

// EncodeWith encodes text with explicit options.
func (b *BPE) EncodeWith(text string, opt EncodeOptions) []int {
	return b.AppendEncode(make([]int, 0, len(text)/3+2), text, opt)
}

// AppendEncode appends the ids of text to dst and returns it, so a caller
// encoding many texts can reuse one buffer.
func (b *BPE) AppendEncode(dst []int, text string, opt EncodeOptions) []int {
	ids := dst
	if opt.AddSpecial && b.addBOS && b.bos >= 0 {
		ids = append(ids, b.bos)
	}
	var skip func(*AddedToken) bool
	if !opt.ParseSpecial {
		skip = skipSpecial
	}
	var segBuf [8]segment
	for _, seg := range b.rawAdded.split(text, skip, segBuf[:0]) {
		if seg.tok != nil {
			ids = append(ids, seg.tok.ID)
			continue
		}
		t := seg.text
		if b.nfc && !isNFC(t) {
			t = norm.NFC.String(t)
		}
		if b.normAdded == nil {
			ids = b.appendText(ids, t)
			continue
		}
		var segBuf2 [8]segment
		for _, s2 := range b.normAdded.split(t, skip, segBuf2[:0]) {
			if s2.tok != nil {
				ids = append(ids, s2.tok.ID)
			} else {
				ids = b.appendText(ids, s2.text)
			}
		}
	}
	if opt.AddSpecial && b.addEOS && b.eos >= 0 {
		ids = append(ids, b.eos)
	}
	return ids
}

// appendText pre-tokenizes plain (normalized) text and BPE-encodes each piece.
func (b *BPE) appendText(ids []int, t string) []int {
	if b.prefixSpace && t != "" && t[0] != ' ' {
		t = " " + t
	}
	if b.qwenSplit {
		// A direct call lets the closure and out stay on the stack; the
		// general splitter is a func value, through which they escape.
		out := ids
		splitQwen2(t, func(w string) { out = b.appendWord(out, w) })
		return out
	}
	out := ids
	b.split(t, func(w string) { out = b.appendWord(out, w) })
	return out
}

// maxCachedWord bounds the words kept in the cache; longer ones are rare
// and would let one huge input evict everything useful.
const maxCachedWord = 64

func (b *BPE) appendWord(ids []int, w string) []int {
	if len(w) == 1 {
		if id := b.byteIDs[w[0]]; id >= 0 {
			return append(ids, int(id))
		}
		return ids
	}
	if len(w) <= maxCachedWord {
		if got, ok := b.cache.get(w); ok {
			for _, id := range got {
				ids = append(ids, int(id))
			}
			return ids
		}
	}
	sc := scratchPool.Get().(*bpeScratch)
	if b.ignoreMerges {
		sc.key = sc.key[:0]
		for i := 0; i < len(w); i++ {
			sc.key = append(sc.key, byteStr[w[i]]...)
		}
		if id, ok := b.vocab[string(sc.key)]; ok {
			scratchPool.Put(sc)
			return append(ids, int(id))
		}
	}
	word := b.merge(w, sc)
	for _, id := range word {
		ids = append(ids, int(id))
	}
	if len(w) <= maxCachedWord {
		b.cache.put(w, append([]int32(nil), word...))
	}
	if cap(sc.syms) <= 1<<16 { // a huge word's buffers are not worth keeping
		scratchPool.Put(sc)
	}
	return ids
}

// symbol is one token of a word being merged, in a doubly linked list
// over the word's bytes.
type symbol struct {
	id         int32
	prev, next int32 // -1 at the ends
}

// candidate is a mergeable adjacent pair. The heap orders by rank, then by
// position, so equal-rank pairs merge left to right as in the reference.
type candidate struct {
	rank, pos   int32
	left, right int32 // ids when queued, to detect pairs that changed since
}

type bpeScratch struct {
	key  []byte // byte-level form of a word, for ignoreMerges
	syms []symbol
	heap []candidate
	out  []int32
}

var scratchPool = sync.Pool{New: func() any { return &bpeScratch{} }}

// merge applies the BPE merges to the bytes of w and returns the ids
// (valid until sc is reused). Cost is O(n log n) in the word length.
func (b *BPE) merge(w string, sc *bpeScratch) []int32 {
	if cap(sc.syms) < len(w) {
		sc.syms = make([]symbol, 0, len(w))
	}
	if cap(sc.heap) < len(w) {
		sc.heap = make([]candidate, 0, len(w))
	}
	syms := sc.syms[:0]
	for i := 0; i < len(w); i++ {
		id := b.byteIDs[w[i]]
		if id < 0 {
			continue // no token for this byte: dropped, as with no unk token
		}
		syms = append(syms, symbol{id: id, prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1})
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := b.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h = heapPush(h, candidate{rank: m.rank, pos: int32(i), left: syms[i].id, right: syms[i+1].id})
		}
	}
	for len(h) > 0 {
		var c candidate
		c, h = heapPop(h)
		l := &syms[c.pos]
		if l.id != c.left || l.next < 0 || syms[l.next].id != c.right {
			continue // stale: one side was merged away since this was queued
		}
		m := b.merges[pairKey(c.left, c.right)]
		r := l.next
		l.id = m.id
		l.next = syms[r].next
		syms[r].id = -1
		if l.next >= 0 {
			syms[l.next].prev = c.pos
		}
		if l.prev >= 0 {
			p := syms[l.prev]
			if mm, ok := b.merges[pairKey(p.id, l.id)]; ok {
				h = heapPush(h, candidate{rank: mm.rank, pos: l.prev, left: p.id, right: l.id})
			}
		}
		if l.next >= 0 {
			n := syms[l.next]
			if mm, ok := b.merges[pairKey(l.id, n.id)]; ok {
				h = heapPush(h, candidate{rank: mm.rank, pos: c.pos, left: l.id, right: n.id})
			}
		}
	}
	out := sc.out[:0]
	for i := int32(0); len(syms) > 0 && i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	sc.syms, sc.heap, sc.out = syms, h, out
	return out
}

func candLess(a, b candidate) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

func heapPush(h []candidate, c candidate) []candidate {
	h = append(h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !candLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []candidate) (candidate, []candidate) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && candLess(h[r], h[l]) {
			m = r
		}
		if !candLess(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top, h
}

// Decode concatenates the bytes of the tokens. The result may hold bytes
// that are not UTF-8 when the ids end mid-character (use a StreamDecoder
// for streaming output). Unknown ids are skipped.
func (b *BPE) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(b.tokenBytes) {
			sb.Write(b.tokenBytes[id])
		}
	}
	return sb.String()
}

// DecodeSkipSpecial is Decode without special (control) tokens.
func (b *BPE) DecodeSkipSpecial(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(b.tokenBytes) && !b.IsSpecial(id) {
			sb.Write(b.tokenBytes[id])
		}
	}
	return sb.String()
}

// DecodeToken returns the bytes of one token as a string ("" for an
// unknown id); it may be part of a multi-byte character.
func (b *BPE) DecodeToken(id int) string {
	if id < 0 || id >= len(b.tokenBytes) {
		return ""
	}
	return string(b.tokenBytes[id])
}

// TokenBytes is DecodeToken without the copy; the slice must not be modified.
func (b *BPE) TokenBytes(id int) []byte {
	if id < 0 || id >= len(b.tokenBytes) {
		return nil
	}
	return b.tokenBytes[id]
}

// Token returns the vocabulary string of id (byte-level form for ordinary
// tokens, the literal text for added tokens).
func (b *BPE) Token(id int) string {
	if id < 0 || id >= len(b.tokens) {
		return ""
	}
	return b.tokens[id]
}

// TokenID looks s up as an added token (by its text) or as a vocabulary
// entry (by its byte-level form, or by its raw text).
func (b *BPE) TokenID(s string) (int, bool) {
	for _, a := range b.added {
		if a.Content == s {
			return a.ID, true
		}
	}
	if id, ok := b.vocab[s]; ok {
		return int(id), true
	}
	if id, ok := b.vocab[byteLevelEncode(s)]; ok {
		return int(id), true
	}
	return 0, false
}

// VocabSize is one more than the largest id.
func (b *BPE) VocabSize() int { return len(b.tokens) }

// BOS is the beginning-of-sequence id, -1 when there is none.
func (b *BPE) BOS() int { return b.bos }

// EOS is the end-of-sequence id, -1 when there is none.
func (b *BPE) EOS() int { return b.eos }

// Pad is the padding id, -1 when there is none.
func (b *BPE) Pad() int { return b.pad }

// AddsBOS reports whether Encode with addSpecial prepends BOS.
func (b *BPE) AddsBOS() bool { return b.addBOS && b.bos >= 0 }

// IsSpecial reports whether id is a special (control) added token.
func (b *BPE) IsSpecial(id int) bool {
	a, ok := b.addedByID[id]
	return ok && a.Special
}

// AddedTokens returns copies of the added tokens, by id.
func (b *BPE) AddedTokens() []AddedToken {
	out := make([]AddedToken, len(b.added))
	for i, a := range b.added {
		out[i] = *a
	}
	return out
}

// NumMerges is the number of merge rules.
func (b *BPE) NumMerges() int { return len(b.mergeList) }

// Pre is the GGUF pre-tokenizer name (tokenizer.ggml.pre) of this vocabulary.
func (b *BPE) Pre() string { return b.pre }

// wordCache maps pre-token words to their BPE ids: a direct-mapped table
// of atomic pointers, so lookups take no lock and allocate nothing, and
// memory is bounded (a colliding word simply replaces the old entry,
// which costs one re-merge later). Entries are immutable once published.
type wordCache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[cacheEntry]
}

type cacheEntry struct {
	word string
	ids  []int32
}

// cacheSlots is the table size (a power of two): 64Ki entries hold the
// working vocabulary of ordinary corpora at about 0.5 MB of pointers.
const cacheSlots = 1 << 16

func (c *wordCache) init() {
	c.seed = maphash.MakeSeed()
	c.slots = make([]atomic.Pointer[cacheEntry], cacheSlots)
}

func (c *wordCache) slot(w string) *atomic.Pointer[cacheEntry] {
	return &c.slots[maphash.String(c.seed, w)&(cacheSlots-1)]
}

func (c *wordCache) get(w string) ([]int32, bool) {
	if e := c.slot(w).Load(); e != nil && e.word == w {
		return e.ids, true
	}
	return nil, false
}

func (c *wordCache) put(w string, ids []int32) {
	c.slot(w).Store(&cacheEntry{word: strings.Clone(w), ids: ids})
}

func sortAdded(l []*AddedToken) {
	sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
}

// isNFC reports whether s is in NFC, erring towards false: a false answer
// only costs the full normalizer, a wrong true skips it. Almost all text is
// made of characters that are NFC on their own and combine with nothing
// (CJK ideographs, most punctuation, emoji); a BMP table of those skips
// them, and only runs of other characters, with the starter before them,
// go through the normalizer (composition never crosses a stable
// character). Two things send the whole string to the normalizer: bytes
// that are not UTF-8, next to which the normalizer's answer for a piece
// differs from its answer for the whole ("\xf7\u0387b"), and a character
// that NFC always replaces (the singletons U+0387, U+037E, U+0340,
// U+2126…), which cannot be in NFC text wherever it stands.
func isNFC(s string) bool {
	stableOnce.Do(initStable)
	prev, run := 0, -1 // start of the previous rune; start of the pending unstable run
	for i := 0; i < len(s); {
		c := s[i]
		sz, stable := 1, false
		if c < utf8.RuneSelf {
			// ASCII letters can take a following combining mark, so they
			// are not stable, but they are starters: a run may begin here.
			if run >= 0 && !norm.NFC.IsNormalString(s[run:i]) {
				return false
			}
			run = -1
			prev = i
			i++
			continue
		}
		var r rune
		r, sz = utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && sz == 1 {
			return false
		}
		if r < 0x10000 {
			if neverBMP[r>>6]&(1<<(r&63)) != 0 {
				return false
			}
			stable = stableBMP[r>>6]&(1<<(r&63)) != 0
		} else {
			p := norm.NFC.PropertiesString(s[i : i+sz])
			if len(p.Decomposition()) != 0 && !norm.NFC.IsNormalString(s[i:i+sz]) {
				return false
			}
			stable = p.BoundaryBefore() && p.BoundaryAfter() && len(p.Decomposition()) == 0
		}
		if stable {
			if run >= 0 && !norm.NFC.IsNormalString(s[run:i]) {
				return false
			}
			run = -1
		} else if run < 0 {
			run = prev
		}
		prev = i
		i += sz
	}
	return run < 0 || norm.NFC.IsNormalString(s[run:])
}

var (
	stableOnce sync.Once
	stableBMP  []uint64 // bit r: rune r is NFC and combines with nothing
	neverBMP   []uint64 // bit r: NFC replaces rune r wherever it stands
)

func initStable() {
	t := make([]uint64, 0x10000/64)
	never := make([]uint64, 0x10000/64)
	var buf [4]byte
	for r := rune(0x80); r < 0x10000; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		p := norm.NFC.Properties(buf[:n])
		if p.BoundaryBefore() && p.BoundaryAfter() && norm.NFC.IsNormal(buf[:n]) {
			t[r>>6] |= 1 << (r & 63)
		}
		// NFC_Quick_Check=No: a canonical decomposition that does not
		// recompose to the character (singletons, excluded compositions).
		if len(p.Decomposition()) != 0 && string(norm.NFC.Bytes(buf[:n])) != string(buf[:n]) && !(r >= 0xAC00 && r <= 0xD7A3) {
			never[r>>6] |= 1 << (r & 63)
		}
	}
	stableBMP, neverBMP = t, never
}
