package index

import "strings"

// PorterStem stems an English word with the Porter algorithm in the variant
// NLTK uses by default (its NLTK_EXTENSIONS mode), which is what rouge-score
// applies with use_stemmer=True; so ROUGE with stemming matches it token for
// token (eval's ROUGE uses it) and BM25 analyzers stem English with it
// (Analyzer.Stem). The word is lowercased first.
func PorterStem(word string) string {
	w := strings.ToLower(word)
	if s, ok := porterIrregular[w]; ok {
		return s
	}
	if len(w) <= 2 {
		return w
	}
	w = porterStep1a(w)
	w = porterStep1b(w)
	w = porterStep1c(w)
	w = porterStep2(w)
	w = porterStep3(w)
	w = porterStep4(w)
	w = porterStep5a(w)
	return porterStep5b(w)
}

// porterIrregular are the whole-word exceptions NLTK's extension mode looks
// up before running the steps.
var porterIrregular = map[string]string{
	"sky": "sky", "skies": "sky",
	"dying": "die", "lying": "lie", "tying": "tie",
	"news":    "news",
	"innings": "inning", "inning": "inning",
	"outings": "outing", "outing": "outing",
	"cannings": "canning", "canning": "canning",
	"howe":    "howe",
	"proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}

// isCons reports whether w[i] is a consonant in Porter's sense: not a vowel,
// and a y only when it does not follow a consonant.
func isCons(w string, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !isCons(w, i-1)
	}
	return true
}

// measure is m in [C](VC)^m[V]: the number of vowel→consonant transitions.
func measure(w string) int {
	m := 0
	for i := 1; i < len(w); i++ {
		if !isCons(w, i-1) && isCons(w, i) {
			m++
		}
	}
	return m
}

func hasVowel(w string) bool {
	for i := range len(w) {
		if !isCons(w, i) {
			return true
		}
	}
	return false
}

func endsDoubleCons(w string) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && isCons(w, n-1)
}

// endsCVC is condition *o, plus NLTK's extension that a two-letter
// vowel-consonant stem also counts.
func endsCVC(w string) bool {
	n := len(w)
	if n >= 3 && isCons(w, n-3) && !isCons(w, n-2) && isCons(w, n-1) && !strings.ContainsRune("wxy", rune(w[n-1])) {
		return true
	}
	return n == 2 && !isCons(w, 0) && isCons(w, 1)
}

type porterRule struct {
	suffix, repl string
	cond         func(stem string) bool // nil: unconditional
}

// applyRules applies the first rule whose suffix matches; a matching rule
// whose condition fails ends the step with the word unchanged. The special
// suffix "*d" matches a double consonant ending.
func applyRules(w string, rules []porterRule) string {
	for _, r := range rules {
		if r.suffix == "*d" {
			if endsDoubleCons(w) {
				stem := w[:len(w)-2]
				if r.cond == nil || r.cond(stem) {
					return stem + r.repl
				}
				return w
			}
			continue
		}
		if strings.HasSuffix(w, r.suffix) {
			stem := w[:len(w)-len(r.suffix)]
			if r.cond == nil || r.cond(stem) {
				return stem + r.repl
			}
			return w
		}
	}
	return w
}

func mGt0(s string) bool { return measure(s) > 0 }
func mGt1(s string) bool { return measure(s) > 1 }

func porterStep1a(w string) string {
	if strings.HasSuffix(w, "ies") && len(w) == 4 {
		return w[:1] + "ie"
	}
	return applyRules(w, []porterRule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}})
}

func porterStep1b(w string) string {
	if strings.HasSuffix(w, "ied") {
		if len(w) == 4 {
			return w[:1] + "ie"
		}
		return w[:len(w)-3] + "i"
	}
	if strings.HasSuffix(w, "eed") {
		if stem := w[:len(w)-3]; measure(stem) > 0 {
			return stem + "ee"
		}
		return w
	}
	stem, ok := "", false
	for _, suf := range []string{"ed", "ing"} {
		if strings.HasSuffix(w, suf) {
			if s := w[:len(w)-len(suf)]; hasVowel(s) {
				stem, ok = s, true
				break
			}
		}
	}
	if !ok {
		return w
	}
	last := stem[len(stem)-1:]
	return applyRules(stem, []porterRule{
		{"at", "ate", nil},
		{"bl", "ble", nil},
		{"iz", "ize", nil},
		{"*d", last, func(string) bool { return !strings.Contains("lsz", last) }},
		{"", "e", func(s string) bool { return measure(s) == 1 && endsCVC(s) }},
	})
}

func porterStep1c(w string) string {
	// NLTK: y→i only after a consonant that is not the whole stem, so
	// happy→happi but enjoy and by stay.
	return applyRules(w, []porterRule{{"y", "i", func(s string) bool { return len(s) > 1 && isCons(s, len(s)-1) }}})
}

var porterStep2Rules = []porterRule{
	{"ational", "ate", mGt0}, {"tional", "tion", mGt0}, {"enci", "ence", mGt0},
	{"anci", "ance", mGt0}, {"izer", "ize", mGt0}, {"bli", "ble", mGt0},
	{"alli", "al", mGt0}, {"entli", "ent", mGt0}, {"eli", "e", mGt0},
	{"ousli", "ous", mGt0}, {"ization", "ize", mGt0}, {"ation", "ate", mGt0},
	{"ator", "ate", mGt0}, {"alism", "al", mGt0}, {"iveness", "ive", mGt0},
	{"fulness", "ful", mGt0}, {"ousness", "ous", mGt0}, {"aliti", "al", mGt0},
	{"iviti", "ive", mGt0}, {"biliti", "ble", mGt0}, {"fulli", "ful", mGt0},
	// logi→log is judged on the stem plus its "l" (NLTK measures word[:-3]).
	{"logi", "log", func(s string) bool { return measure(s+"l") > 0 }},
}

func porterStep2(w string) string {
	if strings.HasSuffix(w, "alli") && measure(w[:len(w)-4]) > 0 {
		return porterStep2(w[:len(w)-4] + "al")
	}
	return applyRules(w, porterStep2Rules)
}

var porterStep3Rules = []porterRule{
	{"icate", "ic", mGt0}, {"ative", "", mGt0}, {"alize", "al", mGt0},
	{"iciti", "ic", mGt0}, {"ical", "ic", mGt0}, {"ful", "", mGt0}, {"ness", "", mGt0},
}

func porterStep3(w string) string { return applyRules(w, porterStep3Rules) }

var porterStep4Rules = []porterRule{
	{"al", "", mGt1}, {"ance", "", mGt1}, {"ence", "", mGt1}, {"er", "", mGt1},
	{"ic", "", mGt1}, {"able", "", mGt1}, {"ible", "", mGt1}, {"ant", "", mGt1},
	{"ement", "", mGt1}, {"ment", "", mGt1}, {"ent", "", mGt1},
	{"ion", "", func(s string) bool { return measure(s) > 1 && (s[len(s)-1] == 's' || s[len(s)-1] == 't') }},
	{"ou", "", mGt1}, {"ism", "", mGt1}, {"ate", "", mGt1}, {"iti", "", mGt1},
	{"ous", "", mGt1}, {"ive", "", mGt1}, {"ize", "", mGt1},
}

func porterStep4(w string) string { return applyRules(w, porterStep4Rules) }

func porterStep5a(w string) string {
	if strings.HasSuffix(w, "e") {
		stem := w[:len(w)-1]
		m := measure(stem)
		if m > 1 || (m == 1 && !endsCVC(stem)) {
			return stem
		}
	}
	return w
}

func porterStep5b(w string) string {
	if strings.HasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		return w[:len(w)-1]
	}
	return w
}
