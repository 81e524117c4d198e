package eval

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BLEU tokenizer names, as sacrebleu spells them in its signature.
const (
	Tokenize13a  = "13a"
	TokenizeZh   = "zh"
	TokenizeNone = "none"
	TokenizeChar = "char"
)

// BLEU smoothing methods (Chen & Cherry 2014), as sacrebleu names them.
const (
	SmoothExp   = "exp"   // NIST geometric halving; sacrebleu's default
	SmoothFloor = "floor" // zero counts get a small fixed numerator
	SmoothAddK  = "add-k" // add k to counts and totals of orders ≥ 2
	SmoothNone  = "none"
)

// bleuVersion stands where sacrebleu puts its own version in a signature, so
// a signature never claims to come from sacrebleu itself.
const bleuVersion = "ragtune-1"

// BLEUOptions selects how BLEU is computed; the zero value gives sacrebleu's
// defaults (13a tokenizer, exp smoothing, order 4, mixed case).
type BLEUOptions struct {
	Tokenize  string // Tokenize13a (default), TokenizeZh, TokenizeNone, TokenizeChar
	Lowercase bool
	Smooth    string // SmoothExp (default), SmoothFloor, SmoothAddK, SmoothNone
	// SmoothValue overrides the method's default (floor 0.1, add-k 1);
	// nil keeps the default, so an explicit 0 is possible.
	SmoothValue *float64
	// MaxOrder is the highest n-gram order; 0 means 4.
	MaxOrder int
	// EffectiveOrder stops the geometric mean at the highest order that has
	// any n-grams at all, which sentence-level BLEU needs.
	EffectiveOrder bool
}

// BLEUScore is a BLEU result with its sufficient statistics. Score is on
// sacrebleu's 0–100 scale.
type BLEUScore struct {
	Score      float64
	Counts     []int     // matched n-grams per order (clipped), before add-k
	Totals     []int     // hypothesis n-grams per order, before add-k
	Precisions []float64 // per order, percent, after smoothing
	BP         float64
	SysLen     int
	RefLen     int
	Signature  string
}

// Ratio is hypothesis length over reference length (0 for no reference).
func (s BLEUScore) Ratio() float64 {
	if s.RefLen == 0 {
		return 0
	}
	return float64(s.SysLen) / float64(s.RefLen)
}

// String formats the score the way sacrebleu prints it.
func (s BLEUScore) String() string {
	precs := make([]string, len(s.Precisions))
	for i, p := range s.Precisions {
		precs[i] = fmt.Sprintf("%.1f", p)
	}
	head := "BLEU"
	if s.Signature != "" {
		head += "|" + s.Signature
	}
	return fmt.Sprintf("%s = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		head, s.Score, strings.Join(precs, "/"), s.BP, s.Ratio(), s.SysLen, s.RefLen)
}

// BLEU computes corpus BLEU with fixed options; make one with NewBLEU.
type BLEU struct {
	opts     BLEUOptions
	tokenize func(string) string
	smoothV  float64
}

// NewBLEU validates opts and fills in sacrebleu's defaults.
func NewBLEU(opts BLEUOptions) (*BLEU, error) {
	if opts.Tokenize == "" {
		opts.Tokenize = Tokenize13a
	}
	if opts.Smooth == "" {
		opts.Smooth = SmoothExp
	}
	if opts.MaxOrder == 0 {
		opts.MaxOrder = 4
	}
	if opts.MaxOrder < 1 {
		return nil, fmt.Errorf("bleu: max n-gram order %d must be at least 1", opts.MaxOrder)
	}
	b := &BLEU{opts: opts}
	switch opts.Tokenize {
	case Tokenize13a:
		b.tokenize = TokenizeBLEU13a
	case TokenizeZh:
		b.tokenize = TokenizeBLEUZh
	case TokenizeNone:
		b.tokenize = func(s string) string { return s }
	case TokenizeChar:
		b.tokenize = TokenizeBLEUChar
	default:
		return nil, fmt.Errorf("bleu: unknown tokenizer %q (use 13a, zh, none or char)", opts.Tokenize)
	}
	switch opts.Smooth {
	case SmoothFloor:
		b.smoothV = 0.1
	case SmoothAddK:
		b.smoothV = 1
	case SmoothExp, SmoothNone:
	default:
		return nil, fmt.Errorf("bleu: unknown smoothing %q (use exp, floor, add-k or none)", opts.Smooth)
	}
	if opts.SmoothValue != nil {
		b.smoothV = *opts.SmoothValue
	}
	return b, nil
}

// CorpusBLEU is a convenience for NewBLEU(opts).Corpus(hyps, refs).
func CorpusBLEU(hyps []string, refs [][]string, opts BLEUOptions) (BLEUScore, error) {
	b, err := NewBLEU(opts)
	if err != nil {
		return BLEUScore{}, err
	}
	return b.Corpus(hyps, refs)
}

// SentenceBLEU scores one hypothesis against its references with effective
// order on, as sacrebleu's sentence_score recommends.
func SentenceBLEU(hyp string, refs []string, opts BLEUOptions) (BLEUScore, error) {
	opts.EffectiveOrder = true
	b, err := NewBLEU(opts)
	if err != nil {
		return BLEUScore{}, err
	}
	return b.Sentence(hyp, refs)
}

// Sentence scores one hypothesis against one or more references.
func (b *BLEU) Sentence(hyp string, refs []string) (BLEUScore, error) {
	streams := make([][]string, len(refs))
	for i, r := range refs {
		streams[i] = []string{r}
	}
	return b.Corpus([]string{hyp}, streams)
}

// Corpus scores hypotheses against reference streams: refs[k][i] is the
// k-th reference of segment i, as in sacrebleu. Empty references are
// skipped per segment (so segments may have different numbers of
// references); a segment with none is an error. Empty hypotheses count.
func (b *BLEU) Corpus(hyps []string, refs [][]string) (BLEUScore, error) {
	if len(refs) == 0 {
		return BLEUScore{}, errors.New("bleu: no reference streams given")
	}
	for k, stream := range refs {
		if len(stream) != len(hyps) {
			return BLEUScore{}, fmt.Errorf("bleu: reference stream %d has %d segments but there are %d hypotheses; give one reference per hypothesis in each stream", k, len(stream), len(hyps))
		}
	}
	n := b.opts.MaxOrder
	correct := make([]int, n)
	total := make([]int, n)
	sysLen, refLen := 0, 0
	nrefs := -2 // -2: unset, -1: varies
	for i, hyp := range hyps {
		var segRefs []string
		for _, stream := range refs {
			if stream[i] != "" {
				segRefs = append(segRefs, stream[i])
			}
		}
		if len(segRefs) == 0 {
			return BLEUScore{}, fmt.Errorf("bleu: segment %d has no non-empty reference", i)
		}
		switch {
		case nrefs == -2:
			nrefs = len(segRefs)
		case nrefs != len(segRefs):
			nrefs = -1
		}
		refCounts := map[string]int{}
		var refLens []int
		for _, r := range segRefs {
			counts, l := wordNgrams(b.preprocess(r), n)
			refLens = append(refLens, l)
			for g, c := range counts {
				if c > refCounts[g] {
					refCounts[g] = c
				}
			}
		}
		hypCounts, hypLen := wordNgrams(b.preprocess(hyp), n)
		sysLen += hypLen
		refLen += closestRefLen(hypLen, refLens)
		for g, c := range hypCounts {
			order := int(g[0]) - 1
			total[order] += c
			correct[order] += min(c, refCounts[g])
		}
	}
	s := b.fromStats(correct, total, sysLen, refLen)
	s.Signature = b.signature(nrefs)
	return s, nil
}

func (b *BLEU) preprocess(s string) string {
	if b.opts.Lowercase {
		s = strings.ToLower(s)
	}
	return b.tokenize(strings.TrimRightFunc(s, pyIsSpace))
}

// signature mirrors sacrebleu's "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:…".
func (b *BLEU) signature(nrefs int) string {
	nr := fmt.Sprint(nrefs)
	if nrefs == -1 {
		nr = "var"
	}
	cs := "mixed"
	if b.opts.Lowercase {
		cs = "lc"
	}
	eff := "no"
	if b.opts.EffectiveOrder {
		eff = "yes"
	}
	smooth := b.opts.Smooth
	if smooth == SmoothFloor || smooth == SmoothAddK {
		smooth += fmt.Sprintf("[%.2f]", b.smoothV)
	}
	return fmt.Sprintf("nrefs:%s|case:%s|eff:%s|tok:%s|smooth:%s|version:%s", nr, cs, eff, b.opts.Tokenize, smooth, bleuVersion)
}

// BLEUFromStats computes BLEU from sufficient statistics, as sacrebleu's
// compute_bleu does; opts select smoothing, order and effective order.
func BLEUFromStats(correct, total []int, sysLen, refLen int, opts BLEUOptions) (BLEUScore, error) {
	if opts.MaxOrder == 0 {
		opts.MaxOrder = len(correct)
	}
	b, err := NewBLEU(opts)
	if err != nil {
		return BLEUScore{}, err
	}
	if len(correct) != b.opts.MaxOrder || len(total) != b.opts.MaxOrder {
		return BLEUScore{}, fmt.Errorf("bleu: need %d counts and totals, got %d and %d", b.opts.MaxOrder, len(correct), len(total))
	}
	return b.fromStats(correct, total, sysLen, refLen), nil
}

func (b *BLEU) fromStats(correct, total []int, sysLen, refLen int) BLEUScore {
	n := b.opts.MaxOrder
	s := BLEUScore{
		Counts:     append([]int(nil), correct...),
		Totals:     append([]int(nil), total...),
		Precisions: make([]float64, n),
		SysLen:     sysLen,
		RefLen:     refLen,
		BP:         1,
	}
	if sysLen < refLen {
		s.BP = 0
		if sysLen > 0 {
			s.BP = math.Exp(1 - float64(refLen)/float64(sysLen))
		}
	}
	anyMatch := false
	for _, c := range correct {
		anyMatch = anyMatch || c != 0
	}
	// sacrebleu returns 0 outright when nothing matches (its issue #141),
	// whatever the smoothing.
	if !anyMatch {
		return s
	}
	smoothMteval := 1.0
	effOrder := n
	for i := 0; i < n; i++ {
		c, t := float64(correct[i]), float64(total[i])
		if b.opts.Smooth == SmoothAddK && i > 0 {
			c += b.smoothV
			t += b.smoothV
		}
		if t == 0 {
			break
		}
		if b.opts.EffectiveOrder {
			effOrder = i + 1
		}
		if c == 0 {
			switch b.opts.Smooth {
			case SmoothExp:
				smoothMteval *= 2
				s.Precisions[i] = 100 / (smoothMteval * t)
			case SmoothFloor:
				s.Precisions[i] = 100 * b.smoothV / t
			}
		} else {
			s.Precisions[i] = 100 * c / t
		}
	}
	sum := 0.0
	for _, p := range s.Precisions[:effOrder] {
		sum += floorLog(p)
	}
	s.Score = s.BP * math.Exp(sum/float64(effOrder))
	return s
}

// floorLog is sacrebleu's my_log: log(0) is a huge negative number rather
// than -Inf, so one empty order drives the score to 0 without NaNs.
func floorLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

// closestRefLen picks the reference length closest to the hypothesis
// length, the shorter one on ties.
func closestRefLen(hypLen int, refLens []int) int {
	best, bestDiff := -1, -1
	for _, l := range refLens {
		d := hypLen - l
		if d < 0 {
			d = -d
		}
		if bestDiff == -1 || d < bestDiff || (d == bestDiff && l < best) {
			best, bestDiff = l, d
		}
	}
	return best
}

// wordNgrams counts the 1..n-grams of a whitespace-tokenized line. A key is
// one byte holding the order followed by the tokens joined with NUL, so the
// order never depends on the text (model output may contain NUL itself).
func wordNgrams(line string, n int) (map[string]int, int) {
	toks := pyFields(line)
	counts := make(map[string]int, len(toks)*n)
	for order := 1; order <= n; order++ {
		for i := 0; i+order <= len(toks); i++ {
			counts[string(rune(order))+strings.Join(toks[i:i+order], "\x00")]++
		}
	}
	return counts, len(toks)
}

// pyIsSpace matches Python's str.isspace, which (unlike unicode.IsSpace)
// includes the information separators U+001C–U+001F; sacrebleu splits and
// strips with it.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyFields is Python's str.split() with no arguments.
func pyFields(s string) []string { return strings.FieldsFunc(s, pyIsSpace) }

// The language-dependent part of mteval-v13a, shared by the 13a and zh
// tokenizers (sacrebleu's TokenizerRegexp), applied in this order.
var (
	bleuPunct      = regexp.MustCompile("([{-~\\[-` -&(-+:-@/])")
	bleuPeriodPre  = regexp.MustCompile(`([^0-9])([.,])`)
	bleuPeriodPost = regexp.MustCompile(`([.,])([^0-9])`)
	bleuDash       = regexp.MustCompile(`([0-9])(-)`)
)

func bleuRegexpTokenize(line string) string {
	line = bleuPunct.ReplaceAllString(line, " ${1} ")
	line = bleuPeriodPre.ReplaceAllString(line, "${1} ${2} ")
	line = bleuPeriodPost.ReplaceAllString(line, " ${1} ${2}")
	line = bleuDash.ReplaceAllString(line, "${1} ${2} ")
	return strings.Join(pyFields(line), " ")
}

// TokenizeBLEU13a is sacrebleu's default tokenizer, equivalent to
// mteval-v13a.pl as used by WMT.
func TokenizeBLEU13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	// One entity after the other, as sacrebleu does it, so "&amp;lt;" ends
	// up as "<" (a single-pass replacer would leave "&lt;").
	for _, p := range [][2]string{{"&quot;", `"`}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}} {
		line = strings.ReplaceAll(line, p[0], p[1])
	}
	return bleuRegexpTokenize(" " + line + " ")
}

// TokenizeBLEUZh is sacrebleu's zh tokenizer: every character in its
// "Chinese" ranges becomes a token of its own, the rest goes through the
// 13a punctuation rules.
func TokenizeBLEUZh(line string) string {
	line = strings.TrimFunc(line, pyIsSpace)
	var sb strings.Builder
	sb.Grow(len(line) * 2)
	for _, r := range line {
		if isBLEUChineseChar(r) {
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		} else {
			sb.WriteRune(r)
		}
	}
	return bleuRegexpTokenize(sb.String())
}

// TokenizeBLEUChar splits into characters; whitespace disappears.
func TokenizeBLEUChar(line string) string {
	parts := make([]string, 0, utf8.RuneCountInString(line))
	for _, r := range line {
		parts = append(parts, string(r))
	}
	return strings.Join(pyFields(strings.Join(parts, " ")), " ")
}

// bleuChineseRanges are sacrebleu's _UCODE_RANGES as Python evaluates them.
// Two entries there are written '\u20000'–'\u2a6d6' and '\u2f800'–'\u2fa1d',
// which Python reads as two-character strings ("\u2000"+"0" …), so the
// comparison `start <= ch <= end` selects U+2001–U+2A6D and U+2F81–U+2FA1
// rather than the supplementary planes. Reproducing that is what makes our
// zh scores equal sacrebleu's (it sends general punctuation such as “ ” —
// and …, and arrows and maths symbols, to single tokens).
var bleuChineseRanges = [][2]rune{
	{0x3400, 0x4db5},
	{0x4e00, 0x9fa5},
	{0x9fa6, 0x9fbb},
	{0xf900, 0xfa2d},
	{0xfa30, 0xfa6a},
	{0xfa70, 0xfad9},
	{0x2001, 0x2a6d}, // written '\u20000'..'\u2a6d6'
	{0x2f81, 0x2fa1}, // written '\u2f800'..'\u2fa1d'
	{0xff00, 0xffef},
	{0x2e80, 0x2eff},
	{0x3000, 0x303f},
	{0x31c0, 0x31ef},
	{0x2f00, 0x2fdf},
	{0x2ff0, 0x2fff},
	{0x3100, 0x312f},
	{0x31a0, 0x31bf},
	{0xfe10, 0xfe1f},
	{0xfe30, 0xfe4f},
	{0x2600, 0x26ff},
	{0x2700, 0x27bf},
	{0x3200, 0x32ff},
	{0x3300, 0x33ff},
}

func isBLEUChineseChar(r rune) bool {
	for _, rg := range bleuChineseRanges {
		if r >= rg[0] && r <= rg[1] {
			return true
		}
	}
	return false
}
