package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched in the raw text before any other
// processing (HF's added_tokens), such as <think> or <|im_start|>.
type AddedToken struct {
	ID      int
	Content string
	// Special tokens are control tokens: skipped by DecodeSkipSpecial and,
	// with ParseSpecial off, not recognised in input text.
	Special bool
	// SingleWord, LStrip, RStrip and Normalized have HF's meanings: match
	// only as a whole word; swallow whitespace on the left/right; match
	// against normalized (NFC) text instead of raw text.
	SingleWord bool
	LStrip     bool
	RStrip     bool
	Normalized bool
}

// addedMatcher finds added tokens leftmost-longest, as HF's Aho-Corasick
// matcher does. Added tokens are few (tens), so a first-byte filter and
// prefix checks are faster than an automaton on ordinary text.
type addedMatcher struct {
	first  [256]bool
	byByte [256][]*AddedToken // longest first
}

func newAddedMatcher(toks []*AddedToken) *addedMatcher {
	if len(toks) == 0 {
		return nil
	}
	m := &addedMatcher{}
	for _, t := range toks {
		if t.Content == "" {
			continue
		}
		c := t.Content[0]
		m.first[c] = true
		m.byByte[c] = append(m.byByte[c], t)
	}
	for c := range m.byByte {
		l := m.byByte[c]
		sort.SliceStable(l, func(a, b int) bool { return len(l[a].Content) > len(l[b].Content) })
	}
	return m
}

// segment is a piece of input: either plain text (tok nil) or one added token.
type segment struct {
	text string
	tok  *AddedToken
}

// split cuts s into text and added-token segments. skip reports tokens
// that must be treated as plain text (special tokens when parsing of
// special tokens is off).
func (m *addedMatcher) split(s string, skip func(*AddedToken) bool, out []segment) []segment {
	if m == nil {
		return append(out, segment{text: s})
	}
	textStart := 0
	for i := 0; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		for _, t := range m.byByte[s[i]] {
			if !strings.HasPrefix(s[i:], t.Content) || (skip != nil && skip(t)) {
				continue
			}
			a, b := i, i+len(t.Content)
			if t.SingleWord && !(isWordBoundary(s, a, true) && isWordBoundary(s, b, false)) {
				continue
			}
			if t.LStrip {
				for a > textStart {
					r, sz := utf8.DecodeLastRuneInString(s[textStart:a])
					if !unicode.IsSpace(r) {
						break
					}
					a -= sz
				}
			}
			if t.RStrip {
				for b < len(s) {
					r, sz := utf8.DecodeRuneInString(s[b:])
					if !unicode.IsSpace(r) {
						break
					}
					b += sz
				}
			}
			if a > textStart {
				out = append(out, segment{text: s[textStart:a]})
			}
			out = append(out, segment{tok: t})
			textStart = b
			i = b - 1
			break
		}
	}
	if textStart < len(s) {
		out = append(out, segment{text: s[textStart:]})
	}
	return out
}

// isWordBoundary reports whether position i of s is not inside a word:
// the character before (left) or after (right) is not a word character.
func isWordBoundary(s string, i int, left bool) bool {
	var r rune
	if left {
		if i == 0 {
			return true
		}
		r, _ = utf8.DecodeLastRuneInString(s[:i])
	} else {
		if i >= len(s) {
			return true
		}
		r, _ = utf8.DecodeRuneInString(s[i:])
	}
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}
