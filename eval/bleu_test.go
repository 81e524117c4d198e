package eval

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

func assertClose(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g (|diff| %.3g > %.3g)", name, got, want, math.Abs(got-want), tol)
	}
}

// The README example of sacrebleu: two reference streams of three segments.
// Source: mjpost/sacrebleu test/test_bleu.py (_refs, _hyps, test_corpus_bleu_cases).
var (
	sbRefs = [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
	sbHyps = []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
)

func TestCorpusBLEUSacrebleuCases(t *testing.T) {
	// mjpost/sacrebleu test/test_bleu.py test_corpus_bleu_cases, EPSILON 1e-8.
	cases := []struct {
		name string
		hyps []string
		opts BLEUOptions
		want float64
	}{
		{"default", sbHyps, BLEUOptions{}, 48.530827},
		{"empty hypotheses kept", []string{"", "", ""}, BLEUOptions{}, 0.0},
		{"tokenize none", sbHyps, BLEUOptions{Tokenize: TokenizeNone}, 49.1919566},
		{"tokenize 13a", sbHyps, BLEUOptions{Tokenize: Tokenize13a}, 48.530827},
		{"smooth none", sbHyps, BLEUOptions{Smooth: SmoothNone}, 48.530827},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CorpusBLEU(c.hyps, sbRefs, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "BLEU", got.Score, c.want, 1e-6)
		})
	}
}

// rawCorpusBLEU is sacrebleu.compat.raw_corpus_bleu: no tokenization, floor
// smoothing, effective order, on the 0–1 scale its tests use.
func rawCorpusBLEU(t *testing.T, hyps []string, ref []string, floor float64) BLEUScore {
	t.Helper()
	s, err := CorpusBLEU(hyps, [][]string{ref}, BLEUOptions{Tokenize: TokenizeNone, Smooth: SmoothFloor, SmoothValue: f64(floor), EffectiveOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRawCorpusBLEU(t *testing.T) {
	// mjpost/sacrebleu test/test_bleu.py: test_raw_bleu_cases, test_case_effective_order,
	// test_case_offset. (The first raw case there, with no matching n-gram at
	// all, predates sacrebleu's #141 fix and is 0 now; see TestBLEUNoMatchIsZero.)
	cases := []struct {
		hyp, ref string
		floor    float64
		want     float64
	}{
		{"this is a test", "this is a test", 0.01, 1.0},
		{"this is a fest", "this is a test", 0.01, 0.223606797749979},
		{"test", "a test", 0.01, 0.3678794411714425},
		{"a test", "a test", 0.01, 1.0},
		{"a little test", "a test", 0.01, 0.03218297948685433},
		{"am I am a character sequence", "I am a symbol string sequence a a", 0.1, 0.1555722182},
		{"am I am a character sequence", "I am a symbol string sequence a a", 0.0, 0},
	}
	for _, c := range cases {
		got := rawCorpusBLEU(t, []string{c.hyp}, []string{c.ref}, c.floor).Score / 100
		assertClose(t, c.hyp+" | "+c.ref, got, c.want, 1e-8)
	}
}

func TestBLEUStatistics(t *testing.T) {
	// mjpost/sacrebleu test/test_bleu.py test_case_statistics.
	s := rawCorpusBLEU(t, []string{"am I am a character sequence"}, []string{"I am a symbol string sequence a a"}, 0.1)
	got, want := [2][]int{s.Counts, s.Totals}, [2][]int{{4, 2, 1, 0}, {6, 5, 4, 3}}
	for i := range got {
		for j := range got[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("counts/totals = %v, want %v", got, want)
			}
		}
	}
	if s.SysLen != 6 || s.RefLen != 8 {
		t.Errorf("lengths = %d/%d, want 6/8", s.SysLen, s.RefLen)
	}
}

func TestBLEUFromStats(t *testing.T) {
	// mjpost/sacrebleu test/test_bleu.py test_case_scoring (compute_bleu's
	// default smoothing is none) and test_case_degenerate_stats (floor).
	got, err := BLEUFromStats([]int{9, 7, 5, 3}, []int{10, 8, 6, 4}, 11, 11, BLEUOptions{Smooth: SmoothNone})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "scoring", got.Score/100, 0.8375922397, 1e-8)

	degenerate := []struct {
		correct, total []int
		sys, ref       int
		floor          float64
	}{
		{[]int{0, 0, 0, 0}, []int{4, 4, 2, 1}, 0, 1, 0.0},
		{[]int{0, 0, 0, 0}, []int{10, 11, 12, 0}, 14, 10, 0.0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0.0},
		{[]int{6, 5, 4, 0}, []int{6, 5, 4, 3}, 6, 6, 0.0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0.1},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 1, 5, 0.01},
	}
	for _, d := range degenerate {
		s, err := BLEUFromStats(d.correct, d.total, d.sys, d.ref, BLEUOptions{Smooth: SmoothFloor, SmoothValue: f64(d.floor)})
		if err != nil {
			t.Fatal(err)
		}
		if s.Score != 0 {
			t.Errorf("degenerate %v/%v sys %d ref %d floor %g: score %g, want exactly 0", d.correct, d.total, d.sys, d.ref, d.floor, s.Score)
		}
	}
}

func TestSentenceBLEUSacrebleuCases(t *testing.T) {
	// mjpost/sacrebleu test/test_sentence_bleu.py (example from its issue #98),
	// EPSILON 1e-3; effective order on.
	const ref = "producţia de zahăr brut se exprimă în zahăr alb;"
	const sys = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
	cases := []struct {
		smooth string
		value  *float64
		lower  bool
		tok    string
		want   float64
	}{
		{"exp", nil, false, "13a", 8.493},
		{"none", nil, false, "13a", 0.0},
		{"floor", nil, false, "13a", 4.51688},
		{"floor", f64(0.1), false, "13a", 4.51688},
		{"floor", f64(0.5), false, "13a", 10.10},
		{"add-k", nil, false, "13a", 14.882},
		{"add-k", f64(1), false, "13a", 14.882},
		{"add-k", f64(2), false, "13a", 21.389},
		{"exp", nil, false, "none", 7.347},
		{"exp", nil, false, "char", 40.8759},
		{"exp", nil, true, "char", 42.0267},
	}
	for _, c := range cases {
		got, err := SentenceBLEU(sys, []string{ref}, BLEUOptions{Smooth: c.smooth, SmoothValue: c.value, Lowercase: c.lower, Tokenize: c.tok})
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, got.Signature, got.Score, c.want, 1e-3)
	}
}

func TestBLEUNoMatchIsZero(t *testing.T) {
	// mjpost/sacrebleu test/test_sentence_bleu.py test_cases_zero_bleu (#141).
	for _, sm := range []string{"exp", "none", "floor", "add-k"} {
		got, err := SentenceBLEU("this is a cat", []string{"okay thanks"}, BLEUOptions{Smooth: sm})
		if err != nil {
			t.Fatal(err)
		}
		if got.Score != 0 {
			t.Errorf("smooth %s: %g, want 0", sm, got.Score)
		}
	}
	got := rawCorpusBLEU(t, []string{"this is a test", "another test"}, []string{"ref1", "ref2"}, 0.01)
	if got.Score != 0 {
		t.Errorf("no-match corpus: %g, want 0", got.Score)
	}
}

func TestBLEUSignatureAndFormat(t *testing.T) {
	s, err := CorpusBLEU(sbHyps, sbRefs, BLEUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, want := s.Signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:"+bleuVersion
	if got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	if !strings.HasPrefix(s.String(), "BLEU|nrefs:2|") || !strings.Contains(s.String(), "= 48.53 ") {
		t.Errorf("String() = %q", s.String())
	}
	s, err = SentenceBLEU("a b", []string{"a b"}, BLEUOptions{Smooth: SmoothFloor, Lowercase: true, Tokenize: TokenizeZh})
	if err != nil {
		t.Fatal(err)
	}
	got, want = s.Signature, "nrefs:1|case:lc|eff:yes|tok:zh|smooth:floor[0.10]|version:"+bleuVersion
	if got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	// A segment with fewer references makes the count variable.
	s, err = CorpusBLEU([]string{"a", "b"}, [][]string{{"a", "b"}, {"a", ""}}, BLEUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Signature, "nrefs:var|") {
		t.Errorf("signature %q, want nrefs:var", s.Signature)
	}
}

func TestBLEUErrors(t *testing.T) {
	if _, err := CorpusBLEU([]string{"a"}, [][]string{{"a", "b"}}, BLEUOptions{}); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := CorpusBLEU([]string{"a"}, [][]string{{""}}, BLEUOptions{}); err == nil {
		t.Error("empty reference: no error")
	}
	if _, err := CorpusBLEU([]string{"a"}, [][]string{{"a"}}, BLEUOptions{Tokenize: "intl"}); err == nil {
		t.Error("unknown tokenizer: no error")
	}
	if _, err := CorpusBLEU([]string{"a"}, [][]string{{"a"}}, BLEUOptions{Smooth: "add-one"}); err == nil {
		t.Error("unknown smoothing: no error")
	}
}

func TestBLEUTokenizers(t *testing.T) {
	cases := []struct {
		tok  func(string) string
		in   string
		want string
	}{
		// 13a: punctuation split, but not the apostrophe, nor periods and
		// commas between digits, nor a dash after a letter.
		{TokenizeBLEU13a, "It wasn't surprising.", "It wasn't surprising ."},
		{TokenizeBLEU13a, "Pay $3.50, or 1,000 yen (now)!", "Pay $ 3.50 , or 1,000 yen ( now ) !"},
		{TokenizeBLEU13a, "pages 10-12 of e-mail", "pages 10 - 12 of e-mail"},
		{TokenizeBLEU13a, "a &amp;lt; b &quot;c&quot;<skipped>", `a < b " c "`},
		{TokenizeBLEU13a, "hyphen-\nated line\nbreak", "hyphenated line break"},
		// zh: each Chinese character alone, the rest by 13a rules.
		{TokenizeBLEUZh, "我爱北京天安门。", "我 爱 北 京 天 安 门 。"},
		{TokenizeBLEUZh, "GPT-4模型，很好!", "GPT-4 模 型 ， 很 好 !"},
		{TokenizeBLEUZh, "  版本3.5发布  ", "版 本 3.5 发 布"},
		// sacrebleu's range quirk: curly quotes are "Chinese" characters.
		{TokenizeBLEUZh, "“Hello” world", "“ Hello ” world"},
		{TokenizeBLEUChar, "ab c", "a b c"},
	}
	for _, c := range cases {
		if got := c.tok(c.in); got != c.want {
			t.Errorf("tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBLEUChineseSentence(t *testing.T) {
	// Hand-checked: 8 hypothesis characters, 7 match the reference's unigrams
	// (3 of 4 orders have matches), lengths equal so BP = 1.
	hyp, ref := "今天天气很好。", "今天天气不错。"
	s, err := SentenceBLEU(hyp, []string{ref}, BLEUOptions{Tokenize: TokenizeZh})
	if err != nil {
		t.Fatal(err)
	}
	// unigrams 今 天 天 气 很 好 。: 5/7 match (今 天 天 气 。); bigrams 今天 天天 天气 气很 很好 好。: 3/6;
	// trigrams 今天天 天天气 天气很 气很好 很好。: 2/5; 4-grams: 1/4 (今天天气).
	want := 100 * math.Pow(5.0/7*3.0/6*2.0/5*1.0/4, 0.25)
	assertClose(t, "zh sentence BLEU", s.Score, want, 1e-9)
	if s.Score == 0 {
		t.Fatal("Chinese BLEU must not be 0")
	}
}

// TestBLEUTokenizersPythonGolden compares with sacrebleu's tokenizer
// definitions run by Python itself (Unicode whitespace, substitution order,
// the zh range table as Python reads it); regenerate with
// `/usr/bin/python3 scripts/eval_bleu_tokenize_golden.py`.
func TestBLEUTokenizersPythonGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/bleu_tokenize.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("bad golden line %q", line)
		}
		var in, want string
		if err := json.Unmarshal([]byte(f[1]), &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(f[2]), &want); err != nil {
			t.Fatal(err)
		}
		tok := TokenizeBLEU13a
		if f[0] == "zh" {
			tok = TokenizeBLEUZh
		}
		if got := tok(in); got != want {
			t.Errorf("%s(%q) = %q, Python %q", f[0], in, got, want)
		}
		n++
	}
	if n < 40 {
		t.Errorf("only %d golden cases", n)
	}
}

// Model output can hold any byte; a NUL inside a token once made the
// n-gram order (then counted from NUL separators) run past the table.
func TestBLEUNULInText(t *testing.T) {
	b, err := NewBLEU(BLEUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hyp := "a\x00b c d e"
	s, err := b.Corpus([]string{hyp}, [][]string{{hyp}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Score, 100.0; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("identical hypothesis with NUL: BLEU %v, want %v", got, want)
	}
}
