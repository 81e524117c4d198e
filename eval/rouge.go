package eval

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/go-ego/gse"

	"ragtune/index"
)

// RougeScore is precision, recall and F1 of one ROUGE type.
type RougeScore struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F         float64 `json:"f"`
}

// ROUGE tokenizers.
const (
	// RougeTokenizeAuto uses RougeTokenizeChars when either text contains a
	// Han character and RougeTokenizeEnglish otherwise. The default.
	RougeTokenizeAuto = "auto"
	// RougeTokenizeEnglish is rouge-score's tokenizer: lowercase, anything
	// outside [a-z0-9] separates, optional Porter stemming of words longer
	// than 3 letters. It drops all Chinese, so Chinese text scores 0.
	RougeTokenizeEnglish = "en"
	// RougeTokenizeChars makes every Han character a token and treats runs
	// of other letters and digits as words (lowercased, stemmed if asked).
	RougeTokenizeChars = "zh-char"
	// RougeTokenizeWords segments Han text into words with gse, with other
	// scripts handled as in RougeTokenizeChars.
	RougeTokenizeWords = "zh-word"
)

// RougeOptions configures a Rouge scorer; the zero value computes rouge1,
// rouge2, rougeL and rougeLsum with the auto tokenizer and no stemming.
type RougeOptions struct {
	// Types are "rouge1"…"rouge9", "rougeL" and "rougeLsum".
	Types     []string
	Tokenizer string
	// Stem applies the Porter stemmer to Latin words longer than 3 letters,
	// as rouge-score's use_stemmer does.
	Stem bool
	// SplitSentences makes rougeLsum split at sentence-final punctuation
	// (。！？!? and a period before a space) as well as at newlines;
	// rouge-score splits at newlines only.
	SplitSentences bool
	// Tokenize, when set, replaces the named tokenizer.
	Tokenize func(string) ([]string, error)
}

// Rouge scores predictions against targets; it is safe for concurrent use.
type Rouge struct {
	opts  RougeOptions
	types []string
}

var rougeNType = regexp.MustCompile(`^rouge[0-9]$`)

// NewRouge checks the options.
func NewRouge(opts RougeOptions) (*Rouge, error) {
	types := opts.Types
	if len(types) == 0 {
		types = []string{"rouge1", "rouge2", "rougeL", "rougeLsum"}
	}
	for _, ty := range types {
		switch {
		case ty == "rougeL" || ty == "rougeLsum":
		case rougeNType.MatchString(ty) && ty != "rouge0":
		default:
			return nil, fmt.Errorf("rouge: invalid type %q (use rouge1…rouge9, rougeL or rougeLsum)", ty)
		}
	}
	switch opts.Tokenizer {
	case "":
		opts.Tokenizer = RougeTokenizeAuto
	case RougeTokenizeAuto, RougeTokenizeEnglish, RougeTokenizeChars, RougeTokenizeWords:
	default:
		return nil, fmt.Errorf("rouge: unknown tokenizer %q (use auto, en, zh-char or zh-word)", opts.Tokenizer)
	}
	return &Rouge{opts: opts, types: types}, nil
}

// Types lists the ROUGE types this scorer computes.
func (r *Rouge) Types() []string { return append([]string(nil), r.types...) }

// Score computes every configured type for one target (reference) and one
// prediction. Errors come only from loading the gse dictionary.
func (r *Rouge) Score(target, prediction string) (map[string]RougeScore, error) {
	tok := r.tokenizerFor(target, prediction)
	ids := map[string]int{}
	intern := func(toks []string) []int {
		out := make([]int, len(toks))
		for i, t := range toks {
			id, ok := ids[t]
			if !ok {
				id = len(ids)
				ids[t] = id
			}
			out[i] = id
		}
		return out
	}
	var tgt, pred []int
	needFlat := false
	for _, ty := range r.types {
		needFlat = needFlat || ty != "rougeLsum"
	}
	if needFlat {
		tt, err := tok(target)
		if err != nil {
			return nil, err
		}
		pt, err := tok(prediction)
		if err != nil {
			return nil, err
		}
		tgt, pred = intern(tt), intern(pt)
	}
	out := make(map[string]RougeScore, len(r.types))
	for _, ty := range r.types {
		switch ty {
		case "rougeL":
			out[ty] = scoreLCS(tgt, pred)
		case "rougeLsum":
			var ts, ps [][]int
			for _, s := range r.sentences(target) {
				toks, err := tok(s)
				if err != nil {
					return nil, err
				}
				ts = append(ts, intern(toks))
			}
			for _, s := range r.sentences(prediction) {
				toks, err := tok(s)
				if err != nil {
					return nil, err
				}
				ps = append(ps, intern(toks))
			}
			out[ty] = summaryLevelLCS(ts, ps)
		default:
			n, _ := strconv.Atoi(ty[len("rouge"):])
			out[ty] = scoreNgrams(ngramCounts(tgt, n), ngramCounts(pred, n))
		}
	}
	return out, nil
}

// ScoreMulti scores a prediction against several targets and keeps, per
// type, the target with the highest F (rouge-score's score_multi).
func (r *Rouge) ScoreMulti(targets []string, prediction string) (map[string]RougeScore, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("rouge: no targets to score against")
	}
	best := map[string]RougeScore{}
	for i, t := range targets {
		s, err := r.Score(t, prediction)
		if err != nil {
			return nil, err
		}
		for k, v := range s {
			if i == 0 || v.F > best[k].F {
				best[k] = v
			}
		}
	}
	return best, nil
}

func (r *Rouge) tokenizerFor(target, prediction string) func(string) ([]string, error) {
	if r.opts.Tokenize != nil {
		return r.opts.Tokenize
	}
	name := r.opts.Tokenizer
	if name == RougeTokenizeAuto {
		name = RougeTokenizeEnglish
		if containsHan(target) || containsHan(prediction) {
			name = RougeTokenizeChars
		}
	}
	stem := r.opts.Stem
	switch name {
	case RougeTokenizeChars:
		return func(s string) ([]string, error) { return RougeCharTokens(s, stem), nil }
	case RougeTokenizeWords:
		return func(s string) ([]string, error) { return RougeWordTokens(s, stem) }
	}
	return func(s string) ([]string, error) { return RougeEnglishTokens(s, stem), nil }
}

func (r *Rouge) sentences(text string) []string {
	var sents []string
	split := strings.Split(text, "\n")
	if r.opts.SplitSentences {
		split = splitSentences(text)
	}
	for _, s := range split {
		if s != "" {
			sents = append(sents, s)
		}
	}
	return sents
}

// splitSentences cuts after 。！？!? and newlines, and after a period that is
// followed by whitespace.
func splitSentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	for i, r := range rs {
		cut := false
		switch r {
		case '\n':
			out = append(out, string(rs[start:i]))
			start = i + 1
			continue
		case '。', '！', '？', '!', '?':
			cut = true
		case '.':
			cut = i+1 < len(rs) && unicode.IsSpace(rs[i+1])
		}
		if cut {
			out = append(out, string(rs[start:i+1]))
			start = i + 1
		}
	}
	return append(out, string(rs[start:]))
}

// RougeEnglishTokens is rouge-score's default tokenizer.
func RougeEnglishTokens(text string, stem bool) []string {
	var toks []string
	start := -1
	lower := strings.ToLower(text)
	flush := func(end int) {
		if start >= 0 {
			toks = append(toks, stemToken(lower[start:end], stem))
			start = -1
		}
	}
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(lower))
	return toks
}

func stemToken(w string, stem bool) string {
	if stem && len(w) > 3 {
		return index.PorterStem(w)
	}
	return w
}

// RougeCharTokens makes each Han character a token; runs of other letters
// and digits become lowercased words (full-width forms folded first), and
// everything else separates.
func RougeCharTokens(text string, stem bool) []string {
	var toks []string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			toks = append(toks, stemToken(strings.ToLower(string(word)), stem))
			word = word[:0]
		}
	}
	for _, r := range text {
		r = foldWidth(r)
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			toks = append(toks, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || (len(word) > 0 && unicode.Is(unicode.Mn, r)):
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return toks
}

// RougeWordTokens segments Han runs into words with gse's dictionary (loaded
// once, on first use); other text is tokenized as by RougeCharTokens.
func RougeWordTokens(text string, stem bool) ([]string, error) {
	seg, err := segmenter()
	if err != nil {
		return nil, err
	}
	var toks []string
	rs := []rune(text)
	for i := 0; i < len(rs); {
		if !unicode.Is(unicode.Han, rs[i]) {
			j := i
			for j < len(rs) && !unicode.Is(unicode.Han, rs[j]) {
				j++
			}
			toks = append(toks, RougeCharTokens(string(rs[i:j]), stem)...)
			i = j
			continue
		}
		j := i
		for j < len(rs) && unicode.Is(unicode.Han, rs[j]) {
			j++
		}
		for _, w := range seg.Cut(string(rs[i:j]), true) {
			if w = strings.TrimSpace(w); w != "" {
				toks = append(toks, w)
			}
		}
		i = j
	}
	return toks, nil
}

var (
	segOnce sync.Once
	seg     gse.Segmenter
	segErr  error
)

// segmenter loads gse's embedded simplified-Chinese dictionary once per
// process (about two seconds); a loaded segmenter is safe for concurrent
// reads.
func segmenter() (*gse.Segmenter, error) {
	segOnce.Do(func() {
		seg.SkipLog = true
		if err := seg.LoadDictEmbed("zh_s"); err != nil {
			segErr = fmt.Errorf("rouge: load gse dictionary: %w", err)
		}
	})
	return &seg, segErr
}

func containsHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// foldWidth maps full-width ASCII variants (U+FF01–U+FF5E) and the
// ideographic space to their ASCII forms.
func foldWidth(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFF01 + '!'
	case r == 0x3000:
		return ' '
	}
	return r
}

func ngramCounts(toks []int, n int) map[string]int {
	counts := map[string]int{}
	key := make([]byte, 0, n*4)
	for i := 0; i+n <= len(toks); i++ {
		key = key[:0]
		for _, t := range toks[i : i+n] {
			key = append(key, byte(t), byte(t>>8), byte(t>>16), byte(t>>24))
		}
		counts[string(key)]++
	}
	return counts
}

func scoreNgrams(target, pred map[string]int) RougeScore {
	inter, nt, np := 0, 0, 0
	for g, c := range target {
		inter += min(c, pred[g])
		nt += c
	}
	for _, c := range pred {
		np += c
	}
	p := float64(inter) / float64(max(np, 1))
	r := float64(inter) / float64(max(nt, 1))
	return RougeScore{Precision: p, Recall: r, F: fmeasure(p, r)}
}

func fmeasure(p, r float64) float64 {
	if p+r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

func scoreLCS(target, pred []int) RougeScore {
	if len(target) == 0 || len(pred) == 0 {
		return RougeScore{}
	}
	t := lcsTable(target, pred)
	l := float64(t[len(t)-1])
	p, r := l/float64(len(pred)), l/float64(len(target))
	return RougeScore{Precision: p, Recall: r, F: fmeasure(p, r)}
}

// lcsTable is the (len(ref)+1)×(len(can)+1) LCS length table, row-major.
func lcsTable(ref, can []int) []int32 {
	cols := len(can) + 1
	t := make([]int32, (len(ref)+1)*cols)
	for i := 1; i <= len(ref); i++ {
		for j := 1; j <= len(can); j++ {
			if ref[i-1] == can[j-1] {
				t[i*cols+j] = t[(i-1)*cols+j-1] + 1
			} else {
				t[i*cols+j] = max(t[(i-1)*cols+j], t[i*cols+j-1])
			}
		}
	}
	return t
}

// lcsIndices reads one LCS out of the table as indices into ref, breaking
// ties the way rouge-score does (move in ref unless can's side is longer).
func lcsIndices(ref, can []int) []int {
	t := lcsTable(ref, can)
	cols := len(can) + 1
	var idx []int
	i, j := len(ref), len(can)
	for i > 0 && j > 0 {
		switch {
		case ref[i-1] == can[j-1]:
			idx = append(idx, i-1)
			i--
			j--
		case t[i*cols+j-1] > t[(i-1)*cols+j]:
			j--
		default:
			i--
		}
	}
	for a, b := 0, len(idx)-1; a < b; a, b = a+1, b-1 {
		idx[a], idx[b] = idx[b], idx[a]
	}
	return idx
}

// summaryLevelLCS is ROUGE-Lsum (Lin 2004, section 3.2): for each reference
// sentence the union of its LCSs with every candidate sentence, with each
// token counted at most as often as it occurs on both sides, as ROUGE-1.5.5
// does.
func summaryLevelLCS(refSents, canSents [][]int) RougeScore {
	if len(refSents) == 0 || len(canSents) == 0 {
		return RougeScore{}
	}
	m, n := 0, 0
	cntR, cntC := map[int]int{}, map[int]int{}
	for _, s := range refSents {
		m += len(s)
		for _, t := range s {
			cntR[t]++
		}
	}
	for _, s := range canSents {
		n += len(s)
		for _, t := range s {
			cntC[t]++
		}
	}
	if m == 0 || n == 0 {
		return RougeScore{}
	}
	hits := 0
	for _, r := range refSents {
		union := map[int]bool{}
		for _, c := range canSents {
			for _, i := range lcsIndices(r, c) {
				union[i] = true
			}
		}
		for i := range r {
			if !union[i] {
				continue
			}
			if t := r[i]; cntC[t] > 0 && cntR[t] > 0 {
				hits++
				cntC[t]--
				cntR[t]--
			}
		}
	}
	p, rc := float64(hits)/float64(n), float64(hits)/float64(m)
	return RougeScore{Precision: p, Recall: rc, F: fmeasure(p, rc)}
}
