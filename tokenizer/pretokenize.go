package tokenizer

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Qwen2Pattern is the split regex of the Qwen2 (and DeepSeek-R1-Distill-Qwen)
// pre-tokenizer, as written in their tokenizer.json.
const Qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// GPT2Pattern is the split regex of the GPT-2 ByteLevel pre-tokenizer
// (use_regex true), used by vocabularies that name no pattern of their own.
const GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// Llama3Pattern is the split regex of the Llama 3 tokenizer (numbers in
// groups of up to three digits).
const Llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// splitFunc calls emit for each pre-token of s, in order; the pieces
// concatenate to s.
type splitFunc func(s string, emit func(piece string))

// Character classes the Qwen2 pattern distinguishes.
const (
	clsOther   uint8 = iota // [^\s\p{L}\p{N}], and bytes that are not UTF-8
	clsLetter               // \p{L}
	clsNumber               // \p{N}
	clsSpace                // \s other than \r and \n
	clsNewline              // \r or \n
)

var asciiClass [128]uint8

func init() {
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case r == '\r' || r == '\n':
			asciiClass[c] = clsNewline
		case unicode.IsSpace(r):
			asciiClass[c] = clsSpace
		case unicode.IsLetter(r):
			asciiClass[c] = clsLetter
		case unicode.IsNumber(r):
			asciiClass[c] = clsNumber
		default:
			asciiClass[c] = clsOther
		}
	}
}

// classAt decodes the rune at s[i:] and classifies it. A byte that does
// not start valid UTF-8 is one "other" character of width 1, so raw bytes
// survive the byte-level encoding unchanged.
func classAt(s string, i int) (r rune, size int, cls uint8) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1, asciiClass[c]
	}
	r, size = utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return r, 1, clsOther
	}
	if r < 0x10000 {
		bmpOnce.Do(initBMP)
		return r, size, bmpClass[r]
	}
	return r, size, classOf(r)
}

// bmpClass caches classOf for the Basic Multilingual Plane (64 KiB, built
// on first use): the unicode tables are binary searches, and CJK text
// would otherwise pay one per character.
var (
	bmpOnce  sync.Once
	bmpClass []uint8
)

func initBMP() {
	t := make([]uint8, 0x10000)
	for r := rune(0); r < 0x10000; r++ {
		if r < 128 {
			t[r] = asciiClass[r]
		} else {
			t[r] = classOf(r)
		}
	}
	bmpClass = t
}

func classOf(r rune) uint8 {
	// unicode.IsSpace is Unicode White_Space, the set Oniguruma's \s uses.
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// foldEq reports whether r matches the ASCII lower-case letter want under
// the simple Unicode case folding the reference regex engines use.
func foldEq(r rune, want byte) bool {
	if r == rune(want) || r == rune(want-32) {
		return true
	}
	return want == 's' && r == 'ſ' // U+017F folds to s
}

// splitQwen2 is a hand-written matcher for Qwen2Pattern. Each numbered
// step below is one alternative of the regex, tried in order at the
// current position, with the backtracking the regex engine would do
// worked out by hand (see the comments on steps 5 and 6).
func splitQwen2(s string, emit func(string)) {
	i := 0
	for i < len(s) {
		r, size, cls := classAt(s, i)
		// 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
		if r == '\'' && i+1 < len(s) {
			if n := contractionLen(s, i+1); n > 0 {
				emit(s[i : i+1+n])
				i += 1 + n
				continue
			}
		}
		// 2. [^\r\n\p{L}\p{N}]?\p{L}+
		if cls == clsLetter {
			j := letterRun(s, i+size)
			emit(s[i:j])
			i = j
			continue
		}
		if (cls == clsOther || cls == clsSpace) && i+size < len(s) {
			if _, _, c2 := classAt(s, i+size); c2 == clsLetter {
				j := letterRun(s, i+size)
				emit(s[i:j])
				i = j
				continue
			}
		}
		// 3. \p{N}
		if cls == clsNumber {
			emit(s[i : i+size])
			i += size
			continue
		}
		// 4.  ?[^\s\p{L}\p{N}]+[\r\n]*
		start := i
		j := i
		if r == ' ' && i+1 < len(s) {
			if _, _, c2 := classAt(s, i+1); c2 == clsOther {
				j = i + 1
				cls = clsOther
			}
		}
		if cls == clsOther {
			for j < len(s) {
				_, sz, c := classAt(s, j)
				if c != clsOther {
					break
				}
				j += sz
			}
			for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
				j++
			}
			emit(s[start:j])
			i = j
			continue
		}
		// Whitespace from here on: find the run [i, end), its last
		// newline and the start of its last character.
		end, lastNL, lastStart := i, -1, i
		for end < len(s) {
			_, sz, c := classAt(s, end)
			if c != clsSpace && c != clsNewline {
				break
			}
			if c == clsNewline {
				lastNL = end
			}
			lastStart = end
			end += sz
		}
		// 5. \s*[\r\n]+ : \s* backtracks from the end of the run to the
		// last newline, then [\r\n]+ takes that newline (any newline after
		// it would have been the last one).
		if lastNL >= 0 {
			emit(s[i : lastNL+1])
			i = lastNL + 1
			continue
		}
		// 6. \s+(?!\S) : at the end of input the whole run; otherwise the
		// run minus its last character, which leaves that character to
		// lead the next word. 7. \s+ : a single space before a non-space.
		if end == len(s) || lastStart == i {
			emit(s[i:end])
			i = end
			continue
		}
		emit(s[i:lastStart])
		i = lastStart
	}
}

// contractionLen returns the length after the apostrophe of the
// contraction starting at s[i:], or 0.
func contractionLen(s string, i int) int {
	r1, n1 := utf8.DecodeRuneInString(s[i:])
	switch {
	case foldEq(r1, 's'), foldEq(r1, 't'), foldEq(r1, 'm'), foldEq(r1, 'd'):
		return n1
	}
	if i+n1 >= len(s) {
		return 0
	}
	r2, n2 := utf8.DecodeRuneInString(s[i+n1:])
	switch {
	case foldEq(r1, 'r') && foldEq(r2, 'e'),
		foldEq(r1, 'v') && foldEq(r2, 'e'),
		foldEq(r1, 'l') && foldEq(r2, 'l'):
		return n1 + n2
	}
	return 0
}

func letterRun(s string, j int) int {
	for j < len(s) {
		_, sz, c := classAt(s, j)
		if c != clsLetter {
			break
		}
		j += sz
	}
	return j
}

// regexSplitter returns a splitFunc for any other pattern, using regexp2
// (Go's regexp has no lookahead). Text between matches becomes pieces
// too, as HF's Split with behavior "Isolated" does.
func regexSplitter(pattern string) (splitFunc, error) {
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("compile pre-tokenizer pattern %q: %w", pattern, err)
	}
	return func(s string, emit func(string)) {
		// regexp2 works on runes; map rune offsets back to bytes.
		runes := []rune(s)
		offs := make([]int, len(runes)+1)
		o := 0
		for k, r := range runes {
			offs[k] = o
			if r == utf8.RuneError {
				// Invalid bytes decode as RuneError of width 1.
				_, sz := utf8.DecodeRuneInString(s[o:])
				o += sz
			} else {
				o += utf8.RuneLen(r)
			}
		}
		offs[len(runes)] = o
		prev := 0
		m, _ := re.FindRunesMatch(runes)
		for m != nil {
			a, b := m.Index, m.Index+m.Length
			if a > prev {
				emit(s[offs[prev]:offs[a]])
			}
			if b > a {
				emit(s[offs[a]:offs[b]])
			}
			prev = b
			m, _ = re.FindNextMatch(m)
		}
		if prev < len(runes) {
			emit(s[offs[prev]:])
		}
	}, nil
}
