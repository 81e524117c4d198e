package eval

import (
	"fmt"
	"strings"
	"unicode"
)

// QAScore is exact match and F1 of answers, each a mean over questions on
// a 0–100 scale, as the SQuAD and CMRC evaluation scripts print them.
type QAScore struct {
	EM float64 `json:"em"`
	F1 float64 `json:"f1"`
	N  int     `json:"n"`
}

// QAStyle chooses how answers are normalized and compared.
type QAStyle int

const (
	// QASQuAD is SQuAD v1.1's evaluate script: English words after
	// lowercasing and removing punctuation and articles.
	QASQuAD QAStyle = iota
	// QACMRC is CMRC 2018's evaluate script: Chinese characters (English
	// runs as words), F1 over the longest common substring.
	QACMRC
)

// ScoreQA averages exact match and F1 over questions; answers[i] are the
// accepted answers of question i and the best one counts.
func ScoreQA(style QAStyle, predictions []string, answers [][]string) (QAScore, error) {
	if len(predictions) != len(answers) {
		return QAScore{}, fmt.Errorf("qa: %d predictions for %d questions; give one prediction per question", len(predictions), len(answers))
	}
	var s QAScore
	for i, p := range predictions {
		if len(answers[i]) == 0 {
			return QAScore{}, fmt.Errorf("qa: question %d has no reference answer", i)
		}
		var em, f1 float64
		switch style {
		case QASQuAD:
			em, f1 = SQuADExactMatch(p, answers[i]), SQuADF1(p, answers[i])
		case QACMRC:
			em, f1 = CMRCExactMatch(p, answers[i]), CMRCF1(p, answers[i])
		default:
			return QAScore{}, fmt.Errorf("qa: unknown style %d", style)
		}
		s.EM += em
		s.F1 += f1
	}
	s.N = len(predictions)
	if s.N > 0 {
		s.EM = 100 * s.EM / float64(s.N)
		s.F1 = 100 * s.F1 / float64(s.N)
	}
	return s, nil
}

// SQuADNormalize is SQuAD v1.1's normalize_answer: lowercase, drop ASCII
// punctuation, drop the words a/an/the, collapse whitespace.
func SQuADNormalize(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r < 0x80 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r) {
			return -1
		}
		return r
	}, s)
	// \b(a|an|the)\b with Python's Unicode word characters: a whole run of
	// word characters equal to an article becomes a space.
	var sb strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !isPyWordChar(rs[i]) {
			sb.WriteRune(rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && isPyWordChar(rs[j]) {
			j++
		}
		switch w := string(rs[i:j]); w {
		case "a", "an", "the":
			sb.WriteByte(' ')
		default:
			sb.WriteString(w)
		}
		i = j
	}
	return strings.Join(pyFields(sb.String()), " ")
}

func isPyWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// SQuADExactMatch is 1 if the normalized prediction equals any normalized
// answer, else 0.
func SQuADExactMatch(prediction string, answers []string) float64 {
	p := SQuADNormalize(prediction)
	for _, a := range answers {
		if p == SQuADNormalize(a) {
			return 1
		}
	}
	return 0
}

// SQuADF1 is the best bag-of-words F1 between the normalized prediction and
// an answer (0 when nothing is shared, even if both are empty).
func SQuADF1(prediction string, answers []string) float64 {
	pt := strings.Fields(SQuADNormalize(prediction))
	best := 0.0
	for _, a := range answers {
		best = max(best, bagF1(pt, strings.Fields(SQuADNormalize(a))))
	}
	return best
}

func bagF1(pred, gold []string) float64 {
	counts := map[string]int{}
	for _, t := range gold {
		counts[t]++
	}
	same := 0
	for _, t := range pred {
		if counts[t] > 0 {
			counts[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	p := float64(same) / float64(len(pred))
	r := float64(same) / float64(len(gold))
	return 2 * p * r / (p + r)
}

// cmrcPunct is the CMRC 2018 script's sp_char list. Its entry "……" has two
// characters and can never equal one character, so it is left out: the
// script keeps "…" too.
const cmrcPunct = "-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』"

func isCMRCPunct(r rune) bool { return strings.ContainsRune(cmrcPunct, r) }

// isCMRCChinese is the script's [\u4e00-\u9fa5] test.
func isCMRCChinese(r rune) bool { return r >= 0x4e00 && r <= 0x9fa5 }

// CMRCSegment is the CMRC 2018 script's mixed_segmentation: lowercased and
// trimmed, each Chinese character (and, when kept, each listed punctuation
// mark) is a segment, and the text between them is split into words the
// way NLTK's word_tokenize splits English (see englishWordTokens).
func CMRCSegment(s string, removePunct bool) []string {
	s = strings.TrimFunc(strings.ToLower(s), pyIsSpace)
	var out []string
	var run []rune
	flush := func() {
		if len(run) > 0 {
			out = append(out, englishWordTokens(string(run))...)
			run = run[:0]
		}
	}
	for _, r := range s {
		if removePunct && isCMRCPunct(r) {
			continue
		}
		if isCMRCChinese(r) || isCMRCPunct(r) {
			flush()
			out = append(out, string(r))
			continue
		}
		run = append(run, r)
	}
	flush()
	return out
}

// CMRCExactMatch is 1 if the prediction equals an answer after lowercasing,
// trimming and removing the listed punctuation, else 0.
func CMRCExactMatch(prediction string, answers []string) float64 {
	p := cmrcStrip(prediction)
	for _, a := range answers {
		if p == cmrcStrip(a) {
			return 1
		}
	}
	return 0
}

func cmrcStrip(s string) string {
	s = strings.TrimFunc(strings.ToLower(s), pyIsSpace)
	return strings.Map(func(r rune) rune {
		if isCMRCPunct(r) {
			return -1
		}
		return r
	}, s)
}

// CMRCF1 is the best F1 over answers where the overlap is the longest
// common contiguous run of segments (the script's find_lcs), not a bag.
func CMRCF1(prediction string, answers []string) float64 {
	ps := CMRCSegment(prediction, true)
	best := 0.0
	for _, a := range answers {
		as := CMRCSegment(a, true)
		l := longestCommonRun(as, ps)
		if l == 0 {
			continue
		}
		p := float64(l) / float64(len(ps))
		r := float64(l) / float64(len(as))
		best = max(best, 2*p*r/(p+r))
	}
	return best
}

// longestCommonRun is the length of the longest common substring of two
// token sequences.
func longestCommonRun(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	best := 0
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
				best = max(best, cur[j+1])
			} else {
				cur[j+1] = 0
			}
		}
		prev, cur = cur, prev
	}
	return best
}

// englishWordTokens approximates NLTK's word_tokenize (Treebank rules) for
// the short non-Chinese runs the CMRC metric meets: whitespace separates;
// ; @ # $ % & ? ! * " and brackets are tokens of their own; a comma or colon
// splits unless a digit follows ("1,000" stays); "..." is one token; a final
// period splits off; clitics 's 're 've 'll 'm 'd n't split off. Quote
// rewriting (" to “ and ”) is not reproduced, as both sides of a
// comparison are tokenized alike.
func englishWordTokens(s string) []string {
	var out []string
	for _, field := range pyFields(s) {
		out = append(out, splitTreebank(field)...)
	}
	if n := len(out); n > 0 {
		last := out[n-1]
		if len(last) > 1 && strings.HasSuffix(last, ".") && !strings.HasSuffix(last, "..") {
			out[n-1] = last[:len(last)-1]
			out = append(out, ".")
		}
	}
	return out
}

func splitTreebank(w string) []string {
	var out []string
	rs := []rune(w)
	cur := []rune{}
	emit := func() {
		if len(cur) > 0 {
			out = append(out, splitClitic(string(cur))...)
			cur = cur[:0]
		}
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case strings.ContainsRune(";@#$%&?!*\"()[]{}<>", r):
			emit()
			out = append(out, string(r))
		case r == ',' || r == ':':
			if i+1 < len(rs) && unicode.IsDigit(rs[i+1]) && len(cur) > 0 {
				cur = append(cur, r)
				continue
			}
			emit()
			out = append(out, string(r))
		case r == '.' && i+2 < len(rs) && rs[i+1] == '.' && rs[i+2] == '.':
			emit()
			j := i
			for j < len(rs) && rs[j] == '.' {
				j++
			}
			out = append(out, string(rs[i:j]))
			i = j - 1
		default:
			cur = append(cur, r)
		}
	}
	emit()
	return out
}

func splitClitic(w string) []string {
	lw := strings.ToLower(w)
	for _, c := range []string{"n't", "'s", "'re", "'ve", "'ll", "'m", "'d"} {
		if strings.HasSuffix(lw, c) && len(w) > len(c) {
			return []string{w[:len(w)-len(c)], w[len(w)-len(c):]}
		}
	}
	return []string{w}
}
