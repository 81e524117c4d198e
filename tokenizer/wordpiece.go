package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// WordPiece is the BERT tokenizer (bge and other embedding models):
// BERT's basic tokenization (clean-up, optional lower-casing and accent
// stripping, CJK characters and punctuation split apart), then greedy
// longest-match-first WordPiece with "##" continuations.
type WordPiece struct {
	tokens   []string
	vocab    map[string]int32
	prefix   string // continuation prefix, "##"
	maxChars int    // longer words become [UNK]

	unk, cls, sep, pad, mask int

	lower, stripAccents, cleanText, chineseChars bool
}

// WordPieceOptions are the normalizer switches; DefaultWordPieceOptions
// is the uncased-BERT setting (bge-small-en and most embedding models).
type WordPieceOptions struct {
	Lowercase    bool
	StripAccents bool
	CleanText    bool
	ChineseChars bool
	MaxChars     int
}

// DefaultWordPieceOptions returns the uncased BERT settings.
func DefaultWordPieceOptions() WordPieceOptions {
	return WordPieceOptions{Lowercase: true, StripAccents: true, CleanText: true, ChineseChars: true, MaxChars: 100}
}

// NewWordPiece builds a WordPiece tokenizer from tokens in id order (as
// in vocab.txt, with "##" continuations).
func NewWordPiece(tokens []string, opt WordPieceOptions) (*WordPiece, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("empty WordPiece vocabulary")
	}
	w := &WordPiece{
		tokens: tokens, vocab: make(map[string]int32, len(tokens)), prefix: "##",
		maxChars: opt.MaxChars, lower: opt.Lowercase, stripAccents: opt.StripAccents,
		cleanText: opt.CleanText, chineseChars: opt.ChineseChars,
	}
	if w.maxChars <= 0 {
		w.maxChars = 100
	}
	for i, t := range tokens {
		if _, dup := w.vocab[t]; !dup {
			w.vocab[t] = int32(i)
		}
	}
	find := func(s string) int {
		if id, ok := w.vocab[s]; ok {
			return int(id)
		}
		return -1
	}
	w.unk, w.cls, w.sep, w.pad, w.mask = find("[UNK]"), find("[CLS]"), find("[SEP]"), find("[PAD]"), find("[MASK]")
	return w, nil
}

// LoadWordPiece reads a WordPiece vocabulary from a vocab.txt, an HF
// tokenizer.json whose model is WordPiece, or a directory holding either.
// Lower-casing follows tokenizer_config.json's do_lower_case when present.
func LoadWordPiece(path string) (*WordPiece, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load WordPiece %q: %w", path, err)
	}
	dir := filepath.Dir(path)
	if st.IsDir() {
		dir = path
		if p := filepath.Join(path, "tokenizer.json"); fileExists(p) {
			path = p
		} else {
			path = filepath.Join(path, "vocab.txt")
		}
	}
	opt := DefaultWordPieceOptions()
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load WordPiece %q: %w", path, err)
	}
	if cfg != nil && cfg.DoLowerCase != nil {
		opt.Lowercase, opt.StripAccents = *cfg.DoLowerCase, *cfg.DoLowerCase
	}
	if strings.HasSuffix(path, ".json") {
		w, err := wordPieceFromHF(path, opt)
		if err != nil {
			return nil, fmt.Errorf("load WordPiece %q: %w", path, err)
		}
		return w, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load WordPiece %q: %w", path, err)
	}
	var toks []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		toks = append(toks, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load WordPiece %q: %w", path, err)
	}
	w, err := NewWordPiece(toks, opt)
	if err != nil {
		return nil, fmt.Errorf("load WordPiece %q: %w", path, err)
	}
	return w, nil
}

func wordPieceFromHF(path string, opt WordPieceOptions) (*WordPiece, error) {
	f, err := readHF(path)
	if err != nil {
		return nil, err
	}
	if f.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("model type %q is not WordPiece", f.Model.Type)
	}
	var vocab map[string]int
	if err := json.Unmarshal(f.Model.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	n := 0
	for _, id := range vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("model.vocab: id %d out of range", id)
		}
		n = max(n, id+1)
	}
	toks := make([]string, n)
	for t, id := range vocab {
		toks[id] = t
	}
	if f.Model.MaxInputCharsPerWord > 0 {
		opt.MaxChars = f.Model.MaxInputCharsPerWord
	}
	if len(f.Normalizer) > 0 && string(f.Normalizer) != "null" {
		var c hfComponent
		if err := json.Unmarshal(f.Normalizer, &c); err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
		if c.Type == "BertNormalizer" {
			set := func(dst *bool, v *bool) {
				if v != nil {
					*dst = *v
				}
			}
			set(&opt.Lowercase, c.Lowercase)
			opt.StripAccents = opt.Lowercase
			set(&opt.StripAccents, c.StripAccents)
			set(&opt.CleanText, c.CleanText)
			set(&opt.ChineseChars, c.HandleChineseChars)
		}
	}
	w, err := NewWordPiece(toks, opt)
	if err != nil {
		return nil, err
	}
	if f.Model.ContinuingSubwordPrefix != nil {
		w.prefix = *f.Model.ContinuingSubwordPrefix
	}
	if f.Model.UnkToken != nil {
		if id, ok := w.vocab[*f.Model.UnkToken]; ok {
			w.unk = int(id)
		}
	}
	return w, nil
}

// Encode returns the WordPiece ids of text, wrapped in [CLS] … [SEP]
// when addSpecial is set.
func (w *WordPiece) Encode(text string, addSpecial bool) []int {
	ids := make([]int, 0, len(text)/4+2)
	if addSpecial && w.cls >= 0 {
		ids = append(ids, w.cls)
	}
	for _, word := range w.basicTokenize(text) {
		ids = w.appendWord(ids, word)
	}
	if addSpecial && w.sep >= 0 {
		ids = append(ids, w.sep)
	}
	return ids
}

// normalize applies BERT's normalizer: drop control characters and map
// whitespace to spaces, pad CJK ideographs with spaces, strip accents
// (NFD, drop non-spacing marks), lower-case.
func (w *WordPiece) normalize(text string) string {
	var sb strings.Builder
	sb.Grow(len(text) + 8)
	for _, r := range text {
		if w.cleanText {
			if r == 0 || r == utf8.RuneError || isBertControl(r) {
				continue
			}
			if isBertSpace(r) {
				r = ' '
			}
		}
		if w.chineseChars && isCJK(r) {
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
			continue
		}
		sb.WriteRune(r)
	}
	s := sb.String()
	if w.stripAccents {
		s = norm.NFD.String(s)
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, s)
	}
	if w.lower {
		s = lowerPerRune(s)
	}
	return s
}

// lowerPerRune lower-cases rune by rune, as the reference does (no
// context-dependent final sigma); U+0130 lower-cases to "i̇".
func lowerPerRune(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if r == 'İ' {
			sb.WriteString("i\u0307")
			continue
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}

// basicTokenize splits normalized text on whitespace and isolates each
// punctuation character.
func (w *WordPiece) basicTokenize(text string) []string {
	s := w.normalize(text)
	var words []string
	start := -1
	for i, r := range s {
		switch {
		case isBertSpace(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
			words = append(words, s[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// appendWord is greedy longest-match-first: the longest vocabulary entry
// that prefixes the rest of the word, "##"-prefixed after the first piece;
// a word with no complete segmentation becomes a single [UNK].
func (w *WordPiece) appendWord(ids []int, word string) []int {
	if utf8.RuneCountInString(word) > w.maxChars {
		return w.appendUnk(ids)
	}
	mark := len(ids)
	var buf []byte
	for start := 0; start < len(word); {
		end := len(word)
		found := -1
		for end > start {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = w.vocab[word[start:end]]
			} else {
				buf = append(append(buf[:0], w.prefix...), word[start:end]...)
				id, ok = w.vocab[string(buf)]
			}
			if ok {
				found = int(id)
				break
			}
			// step back one whole character
			_, sz := utf8.DecodeLastRuneInString(word[start:end])
			end -= sz
		}
		if found < 0 {
			return w.appendUnk(ids[:mark])
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

func (w *WordPiece) appendUnk(ids []int) []int {
	if w.unk >= 0 {
		ids = append(ids, w.unk)
	}
	return ids
}

// Decode joins tokens with spaces, gluing "##" continuations to the
// previous piece and leaving out [CLS], [SEP] and [PAD], then removes the
// spaces before punctuation and English contractions as HF's WordPiece
// decoder does by default (clean-up of tokenization spaces).
func (w *WordPiece) Decode(ids []int) string {
	return cleanupSpaces.Replace(w.decodeRaw(ids))
}

var cleanupSpaces = strings.NewReplacer(" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'",
	" n't", "n't", " 'm", "'m", " 's", "'s", " 've", "'ve", " 're", "'re")

func (w *WordPiece) decodeRaw(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(w.tokens) || id == w.cls || id == w.sep || id == w.pad {
			continue
		}
		t := w.tokens[id]
		if rest, ok := strings.CutPrefix(t, w.prefix); ok && w.prefix != "" {
			sb.WriteString(rest)
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(t)
	}
	return sb.String()
}

// VocabSize is the number of tokens.
func (w *WordPiece) VocabSize() int { return len(w.tokens) }

// Token returns the vocabulary entry of id.
func (w *WordPiece) Token(id int) string {
	if id < 0 || id >= len(w.tokens) {
		return ""
	}
	return w.tokens[id]
}

// TokenID looks up a vocabulary entry.
func (w *WordPiece) TokenID(s string) (int, bool) {
	id, ok := w.vocab[s]
	return int(id), ok
}

// CLS, SEP, Unk, Pad and Mask are the special ids, -1 when absent.
func (w *WordPiece) CLS() int  { return w.cls }
func (w *WordPiece) SEP() int  { return w.sep }
func (w *WordPiece) Unk() int  { return w.unk }
func (w *WordPiece) Pad() int  { return w.pad }
func (w *WordPiece) Mask() int { return w.mask }

func isBertSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r)
}

// isBertControl: Unicode "Other" categories (including unassigned code
// points), except the tab and newlines that count as whitespace.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

func isBertPunct(r rune) bool {
	if r < 128 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// isCJK is the CJK Unified Ideographs block set BERT splits character by
// character (not Japanese kana or Hangul, which are written with spaces).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
