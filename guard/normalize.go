package guard

import (
	"sort"
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

// textMap is a rewritten copy of a text that remembers, for the few places
// where the copy differs, which original bytes each piece came from, so
// findings in the copy map back to the original. Unchanged stretches cost
// nothing but the copy.
type textMap struct {
	clean []byte
	segs  []mapSeg // replaced pieces, in order
}

// mapSeg says clean[cs:ce] replaced original[os:oe].
type mapSeg struct{ cs, ce, os, oe int }

func newTextMap(n int) *textMap { return &textMap{clean: make([]byte, 0, n)} }

// copyByte appends an unchanged byte; the original must be at the position
// the identity stretches imply (callers copy in order).
func (m *textMap) copyByte(c byte) { m.clean = append(m.clean, c) }

// copyStr appends an unchanged piece of the original.
func (m *textMap) copyStr(s string) { m.clean = append(m.clean, s...) }

// replace appends s as the rewrite of original[origStart:origEnd].
func (m *textMap) replace(s string, origStart, origEnd int) {
	cs := len(m.clean)
	m.clean = append(m.clean, s...)
	m.segs = append(m.segs, mapSeg{cs, len(m.clean), origStart, origEnd})
}

func (m *textMap) replaceRune(r rune, origStart, origEnd int) {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	m.replace(string(buf[:n]), origStart, origEnd)
}

// trimTrailingSpaces drops copied spaces at the end of the copy and returns
// how many it dropped; spaces that came from a replacement stay.
func (m *textMap) trimTrailingSpaces() int {
	floor := 0
	if n := len(m.segs); n > 0 {
		floor = m.segs[n-1].ce
	}
	k := 0
	for len(m.clean) > floor && m.clean[len(m.clean)-1] == ' ' {
		m.clean = m.clean[:len(m.clean)-1]
		k++
	}
	return k
}

// origPos maps a clean byte to the original span it came from.
func (m *textMap) origPos(a int) (int, int) {
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].cs > a }) - 1
	if i < 0 {
		return a, a + 1
	}
	s := m.segs[i]
	if a < s.ce {
		return s.os, s.oe
	}
	o := a - s.ce + s.oe
	return o, o + 1
}

// orig maps the clean byte span [a, b) to the original text.
func (m *textMap) orig(a, b int) (int, int) {
	s, _ := m.origPos(a)
	if a >= b {
		return s, s
	}
	_, e := m.origPos(b - 1)
	return s, e
}

// foldedMap folds full-width ASCII to ASCII (keeping case) and drops
// invisible characters, for the PII detectors.
func foldedMap(text string) *textMap {
	m := newTextMap(len(text))
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			m.copyByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isInvisible(r):
			m.replace("", i, i+size)
		case r >= 0xFF01 && r <= 0xFF5E:
			m.replaceRune(r-0xFF01+'!', i, i+size)
		case r == 0x3000:
			m.replace(" ", i, i+size)
		default:
			m.copyStr(text[i : i+size])
		}
		i += size
	}
	return m
}
