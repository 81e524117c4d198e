package guard

import (
	"unicode"
	"unicode/utf8"
)

// foldRune maps the forms people use to dodge filters onto one: full-width
// ASCII (Ｋｉｌｌ, １３８) to ASCII, the ideographic space to a space, and
// letters to lower case.
func foldRune(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		r = r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

// isInvisible reports format characters that render as nothing and are
// inserted to split words (zero-width space and joiners, BOM, soft hyphen).
func isInvisible(r rune) bool {
	switch r {
	case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD:
		return true
	}
	return false
}

// textMap is a rewritten copy of a text with, for every byte of the copy,
// the span of the original it came from, so findings in the copy map back.
type textMap struct {
	clean      []byte
	start, end []int // per clean byte: original byte span of its source
}

func (m *textMap) add(s string, origStart, origEnd int) {
	for i := 0; i < len(s); i++ {
		m.clean = append(m.clean, s[i])
		m.start = append(m.start, origStart)
		m.end = append(m.end, origEnd)
	}
}

func (m *textMap) addRune(r rune, origStart, origEnd int) {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	m.add(string(buf[:n]), origStart, origEnd)
}

// orig maps the clean byte span [a, b) to the original text.
func (m *textMap) orig(a, b int) (int, int) {
	if a >= b {
		return m.start[a], m.start[a]
	}
	return m.start[a], m.end[b-1]
}

// foldedMap folds full-width ASCII to ASCII (keeping case) and drops
// invisible characters, for the PII detectors.
func foldedMap(text string) *textMap {
	m := &textMap{clean: make([]byte, 0, len(text))}
	for i, r := range text {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, size = utf8.DecodeRuneInString(text[i:])
		}
		switch {
		case isInvisible(r):
			continue
		case r >= 0xFF01 && r <= 0xFF5E:
			r = r - 0xFF01 + '!'
		case r == 0x3000:
			r = ' '
		}
		m.addRune(r, i, i+size)
	}
	return m
}
