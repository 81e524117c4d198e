package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Unigram is a SentencePiece unigram-model tokenizer as HF tokenizers
// stores it in tokenizer.json (XLM-RoBERTa, bge-m3, bge-reranker): a
// normalizer (SentencePiece's precompiled character map, possibly with
// further steps), the Metaspace pre-tokenizer (spaces become ▁, one ▁ is
// prepended) and the most probable segmentation of each piece under the
// unigram scores (Viterbi).
type Unigram struct {
	pieces []string
	scores []float64
	ids    map[string]int
	unk    int
	minLen int // shortest piece in bytes, at least 1
	maxLen int // longest piece in bytes

	norm     []func(string) string
	meta     string // Metaspace replacement, "▁"
	prepend  bool   // prepend the replacement to the first word
	split    bool   // split on the replacement before Viterbi
	bos, eos int    // post-processor tokens; -1 when absent
	pairSep  int    // tokens between the two texts of a pair (RoBERTa: </s></s>)
	unkScore float64
}

// unkPenalty is how much less probable than the rarest piece an unknown
// character is scored, the constant SentencePiece and HF tokenizers use.
const unkPenalty = 10.0

type unigramFile struct {
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type         string   `json:"type"`
		UnkID        *int     `json:"unk_id"`
		Vocab        [][2]any `json:"vocab"`
		ByteFallback bool     `json:"byte_fallback"`
	} `json:"model"`
}

type unigramComponent struct {
	Type                string             `json:"type"`
	Normalizers         []unigramComponent `json:"normalizers"`
	Pretokenizers       []unigramComponent `json:"pretokenizers"`
	PrecompiledCharsmap string             `json:"precompiled_charsmap"`
	Pattern             struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content        string `json:"content"`
	Replacement    string `json:"replacement"`
	AddPrefixSpace *bool  `json:"add_prefix_space"`
	PrependScheme  string `json:"prepend_scheme"`
	Split          *bool  `json:"split"`
	StripLeft      *bool  `json:"strip_left"`
	StripRight     *bool  `json:"strip_right"`
	// RobertaProcessing
	Sep []any `json:"sep"`
	Cls []any `json:"cls"`
	// TemplateProcessing
	Single []map[string]struct {
		ID string `json:"id"`
	} `json:"single"`
	Pair []map[string]struct {
		ID string `json:"id"`
	} `json:"pair"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

// LoadUnigram reads a Unigram tokenizer.json (a file, or a directory
// holding one).
func LoadUnigram(path string) (*Unigram, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load Unigram tokenizer: %w", err)
	}
	u, err := parseUnigram(data)
	if err != nil {
		return nil, fmt.Errorf("load Unigram tokenizer %s: %w", path, err)
	}
	return u, nil
}

func parseUnigram(data []byte) (*Unigram, error) {
	var f unigramFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	if f.Model.Type != "Unigram" {
		return nil, fmt.Errorf("model type %q is not Unigram", f.Model.Type)
	}
	if f.Model.ByteFallback {
		return nil, errors.New("byte_fallback Unigram models are not supported")
	}
	u := &Unigram{ids: map[string]int{}, meta: "▁", prepend: true, split: true, bos: -1, eos: -1, minLen: math.MaxInt}
	minScore := math.Inf(1)
	for i, e := range f.Model.Vocab {
		p, ok1 := e[0].(string)
		s, ok2 := e[1].(float64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("vocab entry %d is not [piece, score]", i)
		}
		u.pieces = append(u.pieces, p)
		u.scores = append(u.scores, s)
		if _, dup := u.ids[p]; !dup {
			u.ids[p] = i
		}
		minScore = min(minScore, s)
		u.maxLen = max(u.maxLen, len(p))
		if len(p) > 0 {
			u.minLen = min(u.minLen, len(p))
		}
	}
	if len(u.pieces) == 0 {
		return nil, errors.New("empty vocabulary")
	}
	if f.Model.UnkID == nil || *f.Model.UnkID < 0 || *f.Model.UnkID >= len(u.pieces) {
		return nil, errors.New("model has no valid unk_id")
	}
	u.unk = *f.Model.UnkID
	u.unkScore = minScore - unkPenalty
	if err := u.parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if err := u.parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := u.parsePost(f.PostProcessor); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *Unigram) parseNormalizer(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var c unigramComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("normalizer: %w", err)
	}
	var add func(c unigramComponent) error
	add = func(c unigramComponent) error {
		switch c.Type {
		case "Sequence":
			for _, n := range c.Normalizers {
				if err := add(n); err != nil {
					return err
				}
			}
		case "Precompiled":
			if c.PrecompiledCharsmap == "" {
				return nil // an empty map normalizes nothing
			}
			blob, err := base64.StdEncoding.DecodeString(c.PrecompiledCharsmap)
			if err != nil {
				return fmt.Errorf("precompiled_charsmap: %w", err)
			}
			m, err := ParseCharsmap(blob)
			if err != nil {
				return err
			}
			u.norm = append(u.norm, m.Normalize)
		case "Replace":
			switch {
			case c.Pattern.String != nil:
				old, repl := *c.Pattern.String, c.Content
				u.norm = append(u.norm, func(s string) string { return strings.ReplaceAll(s, old, repl) })
			case c.Pattern.Regex != nil:
				re, err := regexp.Compile(*c.Pattern.Regex)
				if err != nil {
					return fmt.Errorf("Replace normalizer regex: %w", err)
				}
				repl := c.Content
				u.norm = append(u.norm, func(s string) string { return re.ReplaceAllLiteralString(s, repl) })
			default:
				return errors.New("Replace normalizer without pattern")
			}
		case "NFKC":
			u.norm = append(u.norm, norm.NFKC.String)
		case "NFC":
			u.norm = append(u.norm, norm.NFC.String)
		case "Lowercase":
			u.norm = append(u.norm, strings.ToLower)
		case "Strip":
			left, right := c.StripLeft != nil && *c.StripLeft, c.StripRight != nil && *c.StripRight
			u.norm = append(u.norm, func(s string) string {
				if left {
					s = strings.TrimLeft(s, " \t\n\r")
				}
				if right {
					s = strings.TrimRight(s, " \t\n\r")
				}
				return s
			})
		default:
			return fmt.Errorf("normalizer %q is not supported for Unigram tokenizers", c.Type)
		}
		return nil
	}
	return add(c)
}

func (u *Unigram) parsePreTokenizer(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		u.prepend, u.split = false, false
		return nil
	}
	var c unigramComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("pre_tokenizer: %w", err)
	}
	if c.Type == "Sequence" && len(c.Pretokenizers) == 1 {
		c = c.Pretokenizers[0]
	}
	if c.Type != "Metaspace" {
		return fmt.Errorf("pre_tokenizer %q is not supported for Unigram tokenizers (want Metaspace)", c.Type)
	}
	if c.Replacement != "" {
		u.meta = c.Replacement
	}
	switch c.PrependScheme {
	case "never":
		u.prepend = false
	case "", "always", "first":
		// "first" differs from "always" only for the later sections
		// split off by added tokens, which Encode does not produce.
		u.prepend = c.AddPrefixSpace == nil || *c.AddPrefixSpace
	default:
		return fmt.Errorf("Metaspace prepend_scheme %q", c.PrependScheme)
	}
	u.split = c.Split == nil || *c.Split
	return nil
}

func (u *Unigram) parsePost(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var c unigramComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("post_processor: %w", err)
	}
	tokenID := func(pair []any) (int, error) {
		if len(pair) != 2 {
			return 0, errors.New("post_processor token is not [content, id]")
		}
		id, ok := pair[1].(float64)
		if !ok {
			return 0, errors.New("post_processor token id is not a number")
		}
		return int(id), nil
	}
	var err error
	switch c.Type {
	case "RobertaProcessing":
		if u.bos, err = tokenID(c.Cls); err != nil {
			return err
		}
		if u.eos, err = tokenID(c.Sep); err != nil {
			return err
		}
		u.pairSep = 2
	case "TemplateProcessing":
		// Single: [special] $A [special]; read the ids around $A.
		seenA := false
		for _, item := range c.Single {
			if st, ok := item["SpecialToken"]; ok {
				ids := c.SpecialTokens[st.ID].IDs
				if len(ids) != 1 {
					return fmt.Errorf("template special token %q has %d ids", st.ID, len(ids))
				}
				if seenA {
					u.eos = ids[0]
				} else {
					u.bos = ids[0]
				}
			} else {
				seenA = true
			}
		}
		u.pairSep = 1
	default:
		return fmt.Errorf("post_processor %q is not supported for Unigram tokenizers", c.Type)
	}
	return nil
}

// VocabSize is the number of pieces.
func (u *Unigram) VocabSize() int { return len(u.pieces) }

// Token returns piece id's text ("" when out of range).
func (u *Unigram) Token(id int) string {
	if id < 0 || id >= len(u.pieces) {
		return ""
	}
	return u.pieces[id]
}

// TokenID returns the id of a piece.
func (u *Unigram) TokenID(s string) (int, bool) { id, ok := u.ids[s]; return id, ok }

// BOS and EOS are the post-processor's first and last tokens (<s>, </s>
// for XLM-R); -1 when the tokenizer adds none.
func (u *Unigram) BOS() int { return u.bos }
func (u *Unigram) EOS() int { return u.eos }

// Unk is the id unknown characters encode to.
func (u *Unigram) Unk() int { return u.unk }

// Normalize applies the normalizer and the Metaspace pre-tokenizer's
// replacement: the text Viterbi segments.
func (u *Unigram) Normalize(text string) string {
	for _, n := range u.norm {
		text = n(text)
	}
	text = strings.ReplaceAll(text, " ", u.meta)
	if u.prepend && !strings.HasPrefix(text, u.meta) {
		text = u.meta + text
	}
	return text
}

// Encode returns the ids of text; addSpecial wraps them in the
// post-processor's tokens (<s> … </s>).
func (u *Unigram) Encode(text string, addSpecial bool) []int {
	var ids []int
	if addSpecial && u.bos >= 0 {
		ids = append(ids, u.bos)
	}
	ids = u.appendIDs(ids, text)
	if addSpecial && u.eos >= 0 {
		ids = append(ids, u.eos)
	}
	return ids
}

// EncodePair encodes two texts as the post-processor joins them: for
// RoBERTa <s> a </s></s> b </s>.
func (u *Unigram) EncodePair(a, b string) []int {
	ids := u.Encode(a, true)
	for range u.pairSep - 1 {
		ids = append(ids, u.eos)
	}
	return append(u.appendIDs(ids, b), u.eos)
}

func (u *Unigram) appendIDs(ids []int, text string) []int {
	s := u.Normalize(text)
	if s == "" || (u.prepend && s == u.meta && text == "") {
		return ids
	}
	if !u.split {
		return u.viterbi(ids, s)
	}
	// Split before every replacement character, which stays with the
	// word that follows it.
	start := 0
	for i := len(u.meta); i <= len(s); {
		j := strings.Index(s[i:], u.meta)
		if j < 0 {
			break
		}
		if i+j > start {
			ids = u.viterbi(ids, s[start:i+j])
		}
		start = i + j
		i = start + len(u.meta)
	}
	if start < len(s) {
		ids = u.viterbi(ids, s[start:])
	}
	return ids
}

// viterbi appends the best segmentation of s: best[i] is the highest total
// score of a segmentation of s[:i]. A character no piece starts with is
// one unknown token scored unkScore; consecutive unknown characters fuse
// into one unk, as HF tokenizers' Unigram does.
func (u *Unigram) viterbi(ids []int, s string) []int {
	n := len(s)
	best := make([]float64, n+1)
	from := make([]int, n+1)
	tok := make([]int, n+1)
	for i := 1; i <= n; i++ {
		best[i] = math.Inf(-1)
	}
	for i := 0; i < n; i++ {
		if math.IsInf(best[i], -1) {
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		single := false
		for l := u.minLen; l <= u.maxLen && i+l <= n; l++ {
			id, ok := u.ids[s[i:i+l]]
			if !ok {
				continue
			}
			if l == size {
				single = true
			}
			if sc := best[i] + u.scores[id]; sc > best[i+l] {
				best[i+l], from[i+l], tok[i+l] = sc, i, id
			}
		}
		if !single {
			if sc := best[i] + u.unkScore; sc > best[i+size] {
				best[i+size], from[i+size], tok[i+size] = sc, i, u.unk
			}
		}
	}
	var rev []int
	for i := n; i > 0; i = from[i] {
		rev = append(rev, tok[i])
	}
	for k := len(rev) - 1; k >= 0; k-- {
		if rev[k] == u.unk && len(ids) > 0 && ids[len(ids)-1] == u.unk && k < len(rev)-1 && rev[k+1] == u.unk {
			continue
		}
		ids = append(ids, rev[k])
	}
	return ids
}

// Charsmap is SentencePiece's precompiled normalization map: a
// darts-clone double-array trie over UTF-8 input whose values index
// NUL-terminated replacement strings.
type Charsmap struct {
	units      []uint32
	normalized []byte
}

// ParseCharsmap reads the precompiled_charsmap blob: a little-endian
// uint32 byte length of the trie, the trie's 32-bit units, then the
// replacement strings.
func ParseCharsmap(blob []byte) (*Charsmap, error) {
	if len(blob) < 4 {
		return nil, errors.New("precompiled_charsmap is shorter than its header")
	}
	size := binary.LittleEndian.Uint32(blob)
	if size%4 != 0 || uint64(size) > uint64(len(blob)-4) || size == 0 {
		return nil, fmt.Errorf("precompiled_charsmap trie size %d does not fit the %d-byte blob", size, len(blob))
	}
	m := &Charsmap{units: make([]uint32, size/4), normalized: blob[4+size:]}
	for i := range m.units {
		m.units[i] = binary.LittleEndian.Uint32(blob[4+4*i:])
	}
	return m, nil
}

// darts-clone unit fields.
func dcHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dcValue(u uint32) uint32  { return u & (1<<31 - 1) }
func dcLabel(u uint32) uint32  { return u & (1<<31 | 0xff) }
func dcOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// longestMatch returns the value of the longest key that is a prefix of
// s and its length, or ok false.
func (m *Charsmap) longestMatch(s string) (value uint32, length int, ok bool) {
	pos := dcOffset(m.units[0])
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		if c == 0 {
			break
		}
		pos ^= c
		if int(pos) >= len(m.units) {
			break
		}
		u := m.units[pos]
		if dcLabel(u) != c {
			break
		}
		pos ^= dcOffset(u)
		if dcHasLeaf(u) {
			if int(pos) >= len(m.units) {
				break
			}
			value, length, ok = dcValue(m.units[pos]), i+1, true
		}
	}
	return
}

// Normalize replaces, left to right, the longest key matching at each
// position with its replacement string, copying a character no key
// matches, as SentencePiece's normalizer does.
func (m *Charsmap) Normalize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if v, l, ok := m.longestMatch(s[i:]); ok && int(v) < len(m.normalized) {
			end := int(v)
			for end < len(m.normalized) && m.normalized[end] != 0 {
				end++
			}
			b.Write(m.normalized[v:end])
			i += l
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}
