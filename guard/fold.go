package guard

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Lexicon matching compares text and terms after folding each character
// onto the form people dodge a filter from. The fold of one character is
// zero or more characters; in order:
//
//   - invisible format characters (zero-width space and joiners, BOM, soft
//     hyphen, variation selectors, bidi controls) and combining marks are
//     dropped, so "k\u200bill" and "kíll" read "kill";
//   - NFKD compatibility decomposition: full-width forms, ligatures,
//     circled and styled letters become plain letters and digits;
//   - look-alike Cyrillic and Greek letters become the Latin letters they
//     imitate ("ѕuісіdе" reads "suicide");
//   - letters are lower-cased and traditional Chinese characters become
//     simplified ones (殺人方法 reads 杀人方法, see tsTable);
//   - leetspeak digits and signs become the letters they stand for
//     (0→o, 1→l, 3→e, 4→a, 5→s, 7→t, @→a, $→s), and i, l and 1 fold to
//     one letter, since "1" may stand for either.
//
// Terms are folded the same way, so a match means both fold alike. The
// fold is only for matching: findings are reported and masked in the
// original text.

var foldOnce = sync.OnceValue(buildFoldTable)

// foldTab maps each BMP rune to its fold: a rune ≥ 0, foldDrop, or
// foldMulti (several runes, in multi).
type foldTab struct {
	bmp   []int32
	multi map[rune][]rune
}

const (
	foldDrop  = -1
	foldMulti = -2
)

func buildFoldTable() *foldTab {
	t := &foldTab{bmp: make([]int32, 1<<16), multi: map[rune][]rune{}}
	for r := rune(0); r < 1<<16; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			t.bmp[r] = foldDrop
			continue
		}
		out := foldSlow(r)
		switch len(out) {
		case 0:
			t.bmp[r] = foldDrop
		case 1:
			t.bmp[r] = out[0]
		default:
			t.bmp[r] = foldMulti
			t.multi[r] = out
		}
	}
	return t
}

// foldRunes appends the fold of r to dst.
func foldRunes(dst []rune, r rune) []rune {
	t := foldOnce()
	if r >= 0 && r < 1<<16 {
		switch v := t.bmp[r]; v {
		case foldDrop:
			return dst
		case foldMulti:
			return append(dst, t.multi[r]...)
		default:
			return append(dst, v)
		}
	}
	return append(dst, foldSlow(r)...)
}

// foldSlow computes the fold of one character (the table's source).
func foldSlow(r rune) []rune {
	if isInvisible(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) {
		return nil
	}
	if r == 0x3000 {
		return []rune{' '}
	}
	var parts []rune
	if r >= utf8.RuneSelf && !(r >= 0x3400 && r <= 0x9FFF) {
		var buf [utf8.UTFMax]byte
		n := utf8.EncodeRune(buf[:], r)
		d := norm.NFKD.Bytes(buf[:n])
		for len(d) > 0 {
			c, size := utf8.DecodeRune(d)
			d = d[size:]
			if !unicode.Is(unicode.Mn, c) && !unicode.Is(unicode.Me, c) && !isInvisible(c) {
				parts = append(parts, c)
			}
		}
	} else {
		parts = []rune{r}
	}
	for i, c := range parts {
		if l, ok := confusables[c]; ok {
			c = l
		}
		c = unicode.ToLower(c)
		if l, ok := confusables[c]; ok {
			c = l
		}
		if s, ok := tsTable[c]; ok {
			c = s
		}
		if l, ok := leet[c]; ok {
			c = l
		}
		parts[i] = c
	}
	return parts
}

// leet maps digits and signs used as letters; i and l share one letter
// because "1" stands for both.
var leet = map[rune]rune{
	'0': 'o', '1': 'l', 'i': 'l', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's',
}

// confusables maps Cyrillic and Greek letters to the Latin letters they
// look like (after lower-casing, so both cases are listed where the
// capitals differ in shape).
var confusables = map[rune]rune{
	// Cyrillic small letters.
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p',
	'с': 'c', 'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ԁ': 'd',
	'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l', 'ɡ': 'g', 'ү': 'y', 'ո': 'n', 'ս': 'u',
	// Cyrillic capitals whose shape is a Latin capital.
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c',
	'Т': 't', 'У': 'y', 'Х': 'x', 'Ѕ': 's', 'І': 'i', 'Ј': 'j', 'Ԁ': 'd', 'Ү': 'y',
	// Greek.
	'α': 'a', 'β': 'b', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'γ': 'y', 'η': 'n', 'ω': 'w', 'ϲ': 'c', 'ϳ': 'j',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n',
	'Ο': 'o', 'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
}

// tsTable maps traditional to simplified characters: the Unihan pairs of
// tstable.go, and three semantic variants (僱 雇, 兇 凶, 弔 吊) that
// Unihan does not list as simplifications but mainland text writes in the
// second form.
var tsTable = func() map[rune]rune {
	t := map[rune]rune{'僱': '雇', '兇': '凶', '弔': '吊'}
	rs := []rune(tsPairs)
	for i := 0; i+1 < len(rs); i += 2 {
		t[rs[i]] = rs[i+1]
	}
	return t
}()

// maxHanGap is the longest run of separators bridged between two Chinese
// characters; a longer run ends a term.
const maxHanGap = 8

// isGap reports characters people put between Chinese characters to
// split a word: white space (line breaks included), punctuation, symbols
// and invisible characters, in any script and width. '*' is special (see
// skipGaps): it is the mask character.
func isGap(r rune) bool {
	if r < utf8.RuneSelf {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v':
			return true
		case r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return false
		}
		return r > ' ' && r < 0x7f
	}
	return isInvisible(r) || unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) ||
		unicode.Is(unicode.Mn, r)
}

// skipGaps returns the offset after the separators starting at i when a
// Chinese character follows them, else i. The run is at most maxHanGap
// characters and holds at most one '*': a single star splits a word
// ("杀*人"), while masking writes at least two, so text masked once does
// not bridge into new words on a second pass.
func skipGaps(text string, i int) int {
	j, n, stars := i, 0, 0
	for j < len(text) {
		r, size := utf8.DecodeRuneInString(text[j:])
		switch {
		case isHan(r):
			return j
		case !isGap(r):
			return i
		}
		if r == '*' {
			stars++
		}
		if n++; n > maxHanGap || stars > 1 {
			return i
		}
		j += size
	}
	return i
}

// gapTail reports whether text[i:] is a run of separators that more text
// could turn into a bridge between Chinese characters.
func gapTail(text string, i int) bool {
	n, stars := 0, 0
	for _, r := range text[i:] {
		if !isGap(r) {
			return false
		}
		if r == '*' {
			stars++
		}
		if n++; n > maxHanGap || stars > 1 {
			return false
		}
	}
	return true
}
