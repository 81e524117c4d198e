package guard

import (
	"sort"
	"strings"
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

// foldedMap rewrites text for the PII detectors: full-width ASCII to
// ASCII (keeping case), Chinese numeral digits to digits (一三八零… as
// phone numbers are written out), invisible characters dropped, and the
// spelled-out forms of '@' and '.' in addresses ("zhang [at] example
// [dot] com") to the characters themselves.
func foldedMap(text string) *textMap {
	m := newTextMap(len(text))
	numerals := 0 // Chinese numerals up to here are read as digits
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if c == '[' || c == '(' || c == '{' || c == '<' {
				if rep, n := addressForm(text[i:]); n > 0 && lastAddressChar(m) {
					from := i - m.trimTrailingSpaces()
					i += n
					if i < len(text) && text[i] == ' ' {
						i++
					}
					m.replace(rep, from, i)
					continue
				}
			}
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
		case chineseDigit(r) >= 0 && (i < numerals || numeralRun(text[i:]) >= minNumerals):
			// Only a long run is a number written out: 张三 stays a name.
			numerals = i + numeralRunBytes(text[i:])
			m.replaceRune('0'+rune(chineseDigit(r)), i, i+size)
		default:
			m.copyStr(text[i : i+size])
		}
		i += size
	}
	return m
}

// addressForms are spellings of '@' and '.' used to hide e-mail
// addresses from scrapers; matched without regard to case.
var addressForms = []struct{ form, rep string }{
	{"[at]", "@"}, {"(at)", "@"}, {"{at}", "@"}, {"<at>", "@"}, {"[@]", "@"}, {"(@)", "@"},
	{"[dot]", "."}, {"(dot)", "."}, {"{dot}", "."}, {"<dot>", "."}, {"[.]", "."}, {"(.)", "."},
}

func addressForm(s string) (string, int) {
	for _, f := range addressForms {
		if len(s) >= len(f.form) && strings.EqualFold(s[:len(f.form)], f.form) {
			rest := strings.TrimPrefix(s[len(f.form):], " ")
			r, _ := utf8.DecodeRuneInString(rest)
			if rest != "" && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return f.rep, len(f.form)
			}
			return "", 0
		}
	}
	return "", 0
}

// lastAddressChar reports whether the copy so far ends, one space aside,
// in a letter or digit: a spelled-out '@' or '.' follows a name.
func lastAddressChar(m *textMap) bool {
	b := m.clean
	if len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	r, _ := utf8.DecodeLastRune(b)
	return len(b) > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// minNumerals is the fewest Chinese numerals (separators aside) read as
// a number: a mobile number has 11, a landline subscriber 7.
const minNumerals = 7

// numeralRun counts the Chinese numerals in the run of numerals and
// number separators at the start of s.
func numeralRun(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case chineseDigit(r) >= 0:
			n++
		case r == ' ' || r == '-' || r == 0x3000:
		default:
			return n
		}
	}
	return n
}

// numeralRunBytes is the byte length of that run.
func numeralRunBytes(s string) int {
	for i, r := range s {
		if chineseDigit(r) < 0 && r != ' ' && r != '-' && r != 0x3000 {
			return i
		}
	}
	return len(s)
}
