package eval

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Perturbation kinds, each a change a user might make without meaning a
// different question.
const (
	PerturbTypo       = "typo"       // two adjacent letters (or Han characters) swapped
	PerturbWidth      = "width"      // half-width ⇄ full-width forms (3 ⇄ ３, ? ⇄ ？)
	PerturbPunct      = "punct"      // punctuation removed
	PerturbPrefix     = "prefix"     // an irrelevant sentence before the question
	PerturbNumber     = "number"     // 3 ⇄ 三 / three
	PerturbParaphrase = "paraphrase" // a polite template around the question
)

// PerturbKinds lists the kinds in report order.
var PerturbKinds = []string{PerturbTypo, PerturbWidth, PerturbPunct, PerturbPrefix, PerturbNumber, PerturbParaphrase}

// Perturbation is one rewritten question.
type Perturbation struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Perturb returns the perturbations of question q (lang "zh" or "en") that
// change it; n picks among equivalent choices (which word gets the typo,
// which paraphrase template), so a data set gets a spread of them
// deterministically. A kind that cannot apply (no number in the question)
// is left out.
func Perturb(q, lang string, n int) []Perturbation {
	var out []Perturbation
	add := func(kind, text string) {
		if text != "" && text != q {
			out = append(out, Perturbation{kind, text})
		}
	}
	add(PerturbTypo, typo(q, n))
	add(PerturbWidth, swapWidth(q))
	add(PerturbPunct, dropPunct(q))
	if lang == "zh" {
		add(PerturbPrefix, "今天我吃了饭。"+q)
	} else {
		add(PerturbPrefix, "I had rice for lunch today. "+q)
	}
	add(PerturbNumber, swapNumbers(q, lang))
	zh := []string{"请问：%s", "%s请简单回答。", "我想知道，%s"}
	en := []string{"Could you tell me: %s", "%s Please answer briefly.", "Quick question: %s"}
	tm := en
	if lang == "zh" {
		tm = zh
	}
	add(PerturbParaphrase, fmt.Sprintf(tm[n%len(tm)], q))
	return out
}

// typo swaps two adjacent letters inside a word of four or more letters, or
// two adjacent Han characters after the first, choosing the n-th candidate
// (mod their number).
func typo(q string, n int) string {
	rs := []rune(q)
	var cand []int // i: swap rs[i] and rs[i+1]
	for i := 1; i+1 < len(rs); i++ {
		a, b := rs[i], rs[i+1]
		switch {
		case unicode.Is(unicode.Han, a) && unicode.Is(unicode.Han, b) && a != b:
			cand = append(cand, i)
		case unicode.IsLetter(a) && unicode.IsLetter(b) && a < 128 && b < 128 && a != b &&
			unicode.IsLetter(rs[i-1]) && i+2 < len(rs) && unicode.IsLetter(rs[i+2]):
			// Inner letters only: the first and last letter of a word stay.
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return ""
	}
	i := cand[n%len(cand)]
	rs[i], rs[i+1] = rs[i+1], rs[i]
	return string(rs)
}

// swapWidth turns ASCII into full-width forms and full-width forms into
// ASCII (the ideographic space and U+3000 included).
func swapWidth(q string) string {
	var b strings.Builder
	for _, r := range q {
		switch {
		case r == ' ':
			b.WriteRune('\u3000')
		case r == '\u3000':
			b.WriteRune(' ')
		case r >= 0x21 && r <= 0x7e:
			b.WriteRune(r + 0xfee0)
		case r >= 0xff01 && r <= 0xff5e:
			b.WriteRune(r - 0xfee0)
		case r == '。':
			b.WriteRune('.')
		case r == '、':
			b.WriteRune(',')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// dropPunct removes punctuation and squeezes the spaces left behind.
func dropPunct(q string) string {
	f := strings.FieldsFunc(q, unicode.IsSpace)
	for i, w := range f {
		f[i] = strings.Map(func(r rune) rune {
			if unicode.IsPunct(r) {
				return -1
			}
			return r
		}, w)
	}
	return strings.Join(strings.Fields(strings.Join(f, " ")), " ")
}

var (
	digitRun  = regexp.MustCompile(`\d+`)
	zhNumRun  = regexp.MustCompile(`[零一二两三四五六七八九十]+`)
	enNumWord = regexp.MustCompile(`(?i)\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(-(one|two|three|four|five|six|seven|eight|nine))?\b`)
	zhDigits  = []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
	enOnes    = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	enTens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
)

// swapNumbers writes numbers 0–99 the other way: Arabic digits become
// Chinese numerals (zh) or English words (en); when the question has no
// digits, numerals and number words become digits.
func swapNumbers(q, lang string) string {
	if digitRun.MatchString(q) {
		return digitRun.ReplaceAllStringFunc(q, func(s string) string {
			v, err := strconv.Atoi(s)
			if err != nil || v > 99 || (len(s) > 1 && s[0] == '0') {
				return s
			}
			if lang == "zh" {
				return zhNumber(v)
			}
			return enNumber(v)
		})
	}
	if lang == "zh" {
		var b strings.Builder
		last := 0
		for _, loc := range zhNumRun.FindAllStringIndex(q, -1) {
			v, ok := parseZhNumber(q[loc[0]:loc[1]])
			if !ok || !zhCounts(q, loc[0], loc[1]) {
				continue
			}
			b.WriteString(q[last:loc[0]])
			b.WriteString(strconv.Itoa(v))
			last = loc[1]
		}
		b.WriteString(q[last:])
		return b.String()
	}
	return enNumWord.ReplaceAllStringFunc(q, func(s string) string {
		for v := 0; v < 100; v++ {
			if strings.EqualFold(enNumber(v), s) {
				return strconv.Itoa(v)
			}
		}
		return s
	})
}

// zhCounts reports whether the numeral q[i:j] counts something: several
// characters (二十四), a measure word after it (三个, 七天), or arithmetic
// next to it (3 加 4). A lone 一 in 一样 or 统一 is not a number.
func zhCounts(q string, i, j int) bool {
	if utf8.RuneCountInString(q[i:j]) > 1 {
		return true
	}
	next, _ := utf8.DecodeRuneInString(strings.TrimLeft(q[j:], " "))
	prev, _ := utf8.DecodeLastRuneInString(strings.TrimRight(q[:i], " "))
	return strings.ContainsRune(zhMeasure, next) || strings.ContainsRune(zhArith, next) || strings.ContainsRune(zhArith, prev)
}

const (
	zhMeasure = "个天年月周日号小时分秒岁次本只位名张块元米度斤条件种倍人口"
	zhArith   = "加减乘除以等是和"
)

// zhNumber writes 0–99 in Chinese numerals (10 十, 24 二十四).
func zhNumber(v int) string {
	switch {
	case v < 10:
		return zhDigits[v]
	case v < 20:
		return "十" + strings.TrimPrefix(zhDigits[v-10], "零")
	case v%10 == 0:
		return zhDigits[v/10] + "十"
	}
	return zhDigits[v/10] + "十" + zhDigits[v%10]
}

// parseZhNumber reads 0–99 written as zhNumber writes it (两 accepted as 2).
func parseZhNumber(s string) (int, bool) {
	s = strings.ReplaceAll(s, "两", "二")
	for v := 0; v < 100; v++ {
		if zhNumber(v) == s {
			return v, true
		}
	}
	return 0, false
}

// enNumber writes 0–99 in English words (24 twenty-four).
func enNumber(v int) string {
	if v < 20 {
		return enOnes[v]
	}
	if v%10 == 0 {
		return enTens[v/10]
	}
	return enTens[v/10] + "-" + enOnes[v%10]
}

// RobustnessResult measures how much answers change when the question is
// perturbed without changing its meaning.
type RobustnessResult struct {
	Items         int `json:"items"`
	Perturbations int `json:"perturbations"`
	// Agreement is the percent of perturbed questions whose answer equals
	// the clean question's answer after normalization (lowercase,
	// punctuation and spaces removed, full-width folded).
	Agreement float64 `json:"agreement"`
	// RougeL is the mean ROUGE-L F (0–100) of perturbed answers against the
	// clean answer (full-width forms folded first).
	RougeL float64 `json:"rougeL"`
	// CleanAccuracy and PerturbedAccuracy are percent right (F1 against the
	// references ≥ Thresholds.RightF1); AccuracyDrop is their difference.
	CleanAccuracy     float64          `json:"clean_accuracy"`
	PerturbedAccuracy float64          `json:"perturbed_accuracy"`
	AccuracyDrop      float64          `json:"accuracy_drop"`
	PerKind           []RobustnessKind `json:"per_kind"`
	Cases             []RobustnessCase `json:"cases"`
}

// RobustnessKind aggregates one perturbation kind. Accuracy drop compares
// with the clean accuracy of the same items.
type RobustnessKind struct {
	Kind         string  `json:"kind"`
	N            int     `json:"n"`
	Agreement    float64 `json:"agreement"`
	RougeL       float64 `json:"rougeL"`
	Accuracy     float64 `json:"accuracy"`
	AccuracyDrop float64 `json:"accuracy_drop"`
}

// RobustnessCase is one perturbed question and its answer.
type RobustnessCase struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	Question    string  `json:"question"`
	Answer      string  `json:"answer"`
	CleanAnswer string  `json:"clean_answer"`
	Agree       bool    `json:"agree"`
	RougeL      float64 `json:"rougeL"`
	Right       bool    `json:"right"`
	CleanRight  bool    `json:"clean_right"`
}

// normAnswer folds an answer for agreement: NFKC-like width folding,
// lowercase, punctuation and spaces dropped.
func normAnswer(s string) string {
	s = swapWidthToHalf(s)
	return strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

func swapWidthToHalf(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u3000':
			return ' '
		case r >= 0xff01 && r <= 0xff5e:
			return r - 0xfee0
		}
		return r
	}, s)
}

// RunRobustness answers every item clean and perturbed.
func RunRobustness(ctx context.Context, m *Model, items []Item, g GenOptions, th Thresholds, pr *progress) (*RobustnessResult, error) {
	th = th.withDefaults()
	res := &RobustnessResult{Items: len(items)}
	type agg struct {
		n, agree, right, cleanRight int
		rouge                       float64
	}
	kinds := map[string]*agg{}
	total := agg{}
	cleanRight := 0
	var prompts []string
	for i, it := range items {
		prompts = append(prompts, it.Question)
		for _, p := range Perturb(it.Question, it.Lang, i) {
			prompts = append(prompts, p.Text)
		}
	}
	g, stop := g.prefetch(ctx, m, prompts)
	defer stop()
	for i, it := range items {
		clean, _, err := answer(ctx, m, g, it.Question)
		if err != nil {
			return nil, err
		}
		cr := isRight(it, clean, th)
		if cr {
			cleanRight++
		}
		pr.step()
		for _, p := range Perturb(it.Question, it.Lang, i) {
			ans, _, err := answer(ctx, m, g, p.Text)
			if err != nil {
				return nil, err
			}
			c := RobustnessCase{ID: it.ID, Kind: p.Kind, Question: p.Text, Answer: ans, CleanAnswer: clean, CleanRight: cr}
			c.Agree = normAnswer(ans) == normAnswer(clean)
			// Width is folded so that ７ and 7 count as the same token.
			r, err := rougeScorer.Score(swapWidthToHalf(clean), swapWidthToHalf(ans))
			if err != nil {
				return nil, err
			}
			c.RougeL = 100 * r["rougeL"].F
			if normAnswer(clean) == "" && normAnswer(ans) == "" {
				c.RougeL = 100 // two empty answers agree completely
			}
			c.Right = isRight(it, ans, th)
			res.Cases = append(res.Cases, c)
			for _, a := range []*agg{kindAgg(kinds, p.Kind), &total} {
				a.n++
				a.rouge += c.RougeL
				if c.Agree {
					a.agree++
				}
				if c.Right {
					a.right++
				}
				if cr {
					a.cleanRight++
				}
			}
			pr.step()
		}
	}
	pct := func(k, n int) float64 { return 100 * float64(k) / float64(max(n, 1)) }
	res.Perturbations = total.n
	res.Agreement = pct(total.agree, total.n)
	res.RougeL = total.rouge / float64(max(total.n, 1))
	res.CleanAccuracy = pct(cleanRight, len(items))
	res.PerturbedAccuracy = pct(total.right, total.n)
	res.AccuracyDrop = pct(total.cleanRight, total.n) - res.PerturbedAccuracy
	for _, k := range PerturbKinds {
		a, ok := kinds[k]
		if !ok {
			continue
		}
		res.PerKind = append(res.PerKind, RobustnessKind{
			Kind: k, N: a.n, Agreement: pct(a.agree, a.n), RougeL: a.rouge / float64(a.n),
			Accuracy: pct(a.right, a.n), AccuracyDrop: pct(a.cleanRight, a.n) - pct(a.right, a.n),
		})
	}
	return res, nil
}

func kindAgg[T any](m map[string]*T, k string) *T {
	if a, ok := m[k]; ok {
		return a
	}
	a := new(T)
	m[k] = a
	return a
}

// runeLen is the number of code points in s.
func runeLen(s string) int { return utf8.RuneCountInString(s) }
