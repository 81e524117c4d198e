package index

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-ego/gse"
)

// Tokenizer turns text into index terms. Documents and queries must go
// through the same Tokenizer.
type Tokenizer func(text string) []string

// Analyzer tokenizes mixed Chinese and other-script text for BM25.
//
// Runs of Han characters are segmented into words with gse's dictionary;
// runs of letters and digits in other scripts become lower-cased words.
// Word segmentation alone misses queries that phrase a name differently
// from the dictionary's cut, so Han runs can also contribute character
// unigrams and bigrams, kept in their own term namespace so a two-character
// word and the bigram with the same characters have separate statistics.
type Analyzer struct {
	Words      bool // gse words for Han text (other scripts always give Unicode words)
	Bigrams    bool // Han character bigrams
	Unigrams   bool // Han single characters
	Stopwords  bool // drop stop words (Chinese and English) from the word terms
	SearchMode bool // gse search mode: also emit the dictionary words inside long words
	// Stem reduces words of Latin-script text to their Porter stems
	// (symptoms → symptom, treated → treat), after stop-word removal.
	Stem bool
}

// EnglishAnalyzer is DefaultAnalyzer with Porter stemming of non-Han
// words, the analyzer BEIR-layout evaluation uses by default. Knowledge
// bases keep DefaultAnalyzer: their persisted BM25 indexes hold unstemmed
// terms, so a changed analyzer would need them rebuilt.
func EnglishAnalyzer() *Analyzer {
	a := DefaultAnalyzer()
	a.Stem = true
	return a
}

// DefaultAnalyzer is the analyzer knowledge bases use: words plus Han
// bigrams, stop words removed. See docs/BENCHMARKS.md (Retrieval) for the
// measurement behind this choice.
func DefaultAnalyzer() *Analyzer {
	return &Analyzer{Words: true, Bigrams: true, Stopwords: true}
}

// Term prefixes keep n-gram terms apart from word terms.
const (
	unigramPrefix = "\x01"
	bigramPrefix  = "\x02"
)

var (
	segOnce sync.Once
	seg     gse.Segmenter
	segErr  error
)

// segmenter loads gse's embedded simplified-Chinese dictionary once per
// process (about two seconds) and shares it; gse segmenters are safe for
// concurrent reads.
func segmenter() (*gse.Segmenter, error) {
	segOnce.Do(func() {
		seg.SkipLog = true
		segErr = seg.LoadDictEmbed("zh_s")
	})
	return &seg, segErr
}

// isHan reports whether r is a CJK ideograph (the characters gse segments).
func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// Tokens returns the terms of text. It never fails: should the dictionary
// not load, Han runs fall back to bigrams and unigrams.
func (a *Analyzer) Tokens(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isHan(r):
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !isHan(r2) {
					break
				}
				j += s2
			}
			out = a.han(out, text[i:j])
			i = j
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if isHan(r2) || !(unicode.IsLetter(r2) || unicode.IsDigit(r2) || unicode.Is(unicode.Mn, r2)) {
					break
				}
				j += s2
			}
			// Other scripts are always indexed as words: n-grams are
			// only a remedy for text written without spaces.
			w := strings.ToLower(text[i:j])
			if !(a.Stopwords && isStopword(w)) {
				if a.Stem && len(w) > 2 && isLatinWord(w) {
					w = PorterStem(w)
				}
				out = append(out, w)
			}
			i = j
		default:
			i += size
		}
	}
	return out
}

func (a *Analyzer) han(out []string, run string) []string {
	segm, err := segmenter()
	words := a.Words && err == nil
	if words {
		var ws []string
		if a.SearchMode {
			ws = segm.CutSearch(run, false)
		} else {
			ws = segm.Cut(run, false)
		}
		for _, w := range ws {
			if !(a.Stopwords && isStopword(w)) {
				out = append(out, w)
			}
		}
	}
	// Without words (not asked for, or no dictionary) n-grams carry the
	// Han text; a lone character then needs its unigram to be findable.
	bigrams := a.Bigrams || !words
	unigrams := a.Unigrams || (!words && utf8.RuneCountInString(run) == 1)
	prev := ""
	for _, r := range run {
		c := string(r)
		if unigrams {
			out = append(out, unigramPrefix+c)
		}
		if bigrams && prev != "" {
			out = append(out, bigramPrefix+prev+c)
		}
		prev = c
	}
	return out
}

// isLatinWord reports whether w is written in ASCII letters, the words
// the Porter rules are written for; digits, other scripts and mixed
// tokens (Q8_0, covid19) are left whole.
func isLatinWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// CharNGrams is the baseline tokenizer of ANCHORS.md: every code point
// (lower-cased) and every pair of adjacent code points, punctuation and
// white space included.
func CharNGrams(text string) []string {
	runes := []rune(strings.ToLower(text))
	out := make([]string, 0, 2*len(runes))
	for _, r := range runes {
		out = append(out, string(r))
	}
	for i := 0; i+1 < len(runes); i++ {
		out = append(out, string(runes[i:i+2]))
	}
	return out
}

// View is one analysis of a text for Views.
type View struct {
	Tokens Tokenizer
	// Weight multiplies the view's term frequencies (BM25F field weight):
	// each term is emitted Weight times. Queries are unaffected, since
	// BM25 counts each query term once.
	Weight int
}

// Views indexes several analyses of the same text in one BM25 index, each
// in its own term namespace and weighted BM25F-style: the views share one
// length normalization, and a view's weight scales its term frequencies
// before saturation. A Chinese word view beside character n-grams
// (ChineseViews) weighs a matched dictionary word above the scattered
// characters it shares with other text, while the n-grams still match
// names the dictionary cuts differently.
func Views(views ...View) Tokenizer {
	return func(text string) []string {
		var out []string
		for i, v := range views {
			prefix := string(rune(0x10 + i))
			for _, t := range v.Tokens(text) {
				for range max(v.Weight, 1) {
					out = append(out, prefix+t)
				}
			}
		}
		return out
	}
}

// ChineseViews is character unigrams+bigrams (CharNGrams) with weight 1
// plus gse words (stop words removed) with weight wordWeight.
func ChineseViews(wordWeight int) Tokenizer {
	words := &Analyzer{Words: true, Stopwords: true}
	return Views(View{CharNGrams, 1}, View{words.Tokens, wordWeight})
}
