package eval

import (
	"os"
	"strings"
	"testing"
)

func rougeScore(t *testing.T, opts RougeOptions, target, pred string) map[string]RougeScore {
	t.Helper()
	r, err := NewRouge(opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Score(target, pred)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func assertRouge(t *testing.T, name string, got RougeScore, p, r, f, tol float64) {
	t.Helper()
	assertClose(t, name+" precision", got.Precision, p, tol)
	assertClose(t, name+" recall", got.Recall, r, tol)
	assertClose(t, name+" F", got.F, f, tol)
}

// Cases from google-research rouge/rouge_scorer_test.py.
func TestRougeScorerCases(t *testing.T) {
	en := RougeOptions{Tokenizer: RougeTokenizeEnglish}
	s := rougeScore(t, en, "testing one two", "testing")
	assertRouge(t, "rouge1", s["rouge1"], 1, 1.0/3, 0.5, 1e-12)
	s = rougeScore(t, en, "testing one two", "testing one")
	assertRouge(t, "rouge2", s["rouge2"], 1, 0.5, 2.0/3, 1e-12)
	assertRouge(t, "rougeL consecutive", s["rougeL"], 1, 2.0/3, 0.8, 1e-12)
	assertRouge(t, "rouge1 multiple types", s["rouge1"], 1, 2.0/3, 0.8, 1e-12)
	s = rougeScore(t, en, "testing one two", "testing two")
	assertRouge(t, "rougeL non-consecutive", s["rougeL"], 1, 2.0/3, 0.8, 1e-12)
	for ty, v := range rougeScore(t, en, "testing one two", "") {
		assertRouge(t, "empty "+ty, v, 0, 0, 0, 0)
	}
	s = rougeScore(t, RougeOptions{Types: []string{"rougeLsum"}}, "w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5")
	assertRouge(t, "rougeLsum", s["rougeLsum"], 0.4, 0.8, 0.4*0.8*2/1.2, 1e-12)
	for _, c := range [][2]string{{"w1 w2 w3 w4 w5", ""}, {"", "w1"}, {"w1 w2 w3 w4 w5", "/"}} {
		s = rougeScore(t, RougeOptions{Types: []string{"rougeLsum"}}, c[0], c[1])
		assertRouge(t, "rougeLsum empty", s["rougeLsum"], 0, 0, 0, 0)
	}
	for _, bad := range []string{"rougen", "rouge0", "rouge10", "bleu"} {
		if _, err := NewRouge(RougeOptions{Types: []string{bad}}); err == nil {
			t.Errorf("type %q accepted", bad)
		}
	}
	for _, good := range []string{"rouge1", "rouge9", "rougeL", "rougeLsum"} {
		if _, err := NewRouge(RougeOptions{Types: []string{good}}); err != nil {
			t.Errorf("type %q: %v", good, err)
		}
	}
}

func TestRougeLCSHelpers(t *testing.T) {
	// rouge_scorer_test.py testLcsTable, testUnionLcs, testSummaryLevelLcs.
	ref := []int{1, 2, 3, 4, 5}
	tab := lcsTable(ref, []int{2, 5, 3, 4})
	if got := tab[len(tab)-1]; got != 3 {
		t.Errorf("LCS length %d, want 3", got)
	}
	if got, want := lcsIndices(ref, []int{2, 5, 3, 4}), []int{1, 2, 3}; !equalInts(got, want) {
		t.Errorf("LCS indices %v, want %v", got, want)
	}
	if got := lcsIndices(ref, []int{8, 9}); len(got) != 0 {
		t.Errorf("LCS of disjoint = %v", got)
	}
	s := summaryLevelLCS([][]int{ref}, [][]int{{1, 2, 6, 7, 8}, {1, 3, 8, 9, 5}})
	assertRouge(t, "summary-level", s, 0.4, 0.8, 0.5333333333, 1e-9)
	s = summaryLevelLCS([][]int{{1}}, [][]int{{}})
	assertRouge(t, "summary-level empty candidate", s, 0, 0, 0, 0)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")
}

// TestRougeAgainstROUGE155 carries over rouge_scorer_test.py's comparisons
// with the official ROUGE-1.5.5 Perl script (5 decimal places).
func TestRougeAgainstROUGE155(t *testing.T) {
	targets := readLines(t, "testdata/rouge/target.txt")
	preds := readLines(t, "testdata/rouge/prediction.txt")
	type prf [3]float64 // recall, precision, F as the Python test lists them
	cases := []struct {
		ty   string
		stem bool
		want [2]prf
	}{
		{"rouge1", false, [2]prf{{0.40741, 0.68750, 0.51163}, {0.40476, 0.65385, 0.50000}}},
		{"rouge1", true, [2]prf{{0.40741, 0.68750, 0.51163}, {0.42857, 0.69231, 0.52941}}},
		{"rouge2", false, [2]prf{{0.30769, 0.53333, 0.39024}, {0.29268, 0.48000, 0.36364}}},
		{"rouge2", true, [2]prf{{0.30769, 0.53333, 0.39024}, {0.29268, 0.48000, 0.36364}}},
		{"rougeL", false, [2]prf{{0.40741, 0.68750, 0.51163}, {0.40476, 0.65385, 0.50000}}},
	}
	for _, c := range cases {
		for i := 0; i < 2; i++ {
			s := rougeScore(t, RougeOptions{Types: []string{c.ty}, Stem: c.stem, Tokenizer: RougeTokenizeEnglish}, targets[i], preds[i])
			w := c.want[i]
			assertRouge(t, c.ty, s[c.ty], w[1], w[0], w[2], 5e-6)
		}
	}
	tm, err := os.ReadFile("testdata/rouge/target_multi.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	pm, err := os.ReadFile("testdata/rouge/prediction_multi.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := rougeScore(t, RougeOptions{Types: []string{"rougeLsum"}, Stem: true}, string(tm), string(pm))
	assertRouge(t, "rougeLsum stemmed", s["rougeLsum"], 0.66667, 0.36538, 0.47205, 5e-6)
}

// TestRougeChinese checks the Chinese extension by hand; the reference tool
// tokenizes these texts to nothing and reports 0.
func TestRougeChinese(t *testing.T) {
	target, pred := "今天天气很好。", "今天天气不错！"
	if got := rougeScore(t, RougeOptions{Tokenizer: RougeTokenizeEnglish}, target, pred)["rouge1"]; got.F != 0 {
		t.Fatalf("English tokenizer on Chinese: F = %g, want 0 like rouge-score", got.F)
	}
	s := rougeScore(t, RougeOptions{}, target, pred)
	// Characters: 今 天 天 气 很 好 vs 今 天 天 气 不 错 → 4 of 6 unigrams,
	// bigrams 今天 天天 天气 of 5 → 3/5, LCS 今天天气 → 4/6.
	assertRouge(t, "zh rouge1", s["rouge1"], 4.0/6, 4.0/6, 4.0/6, 1e-12)
	assertRouge(t, "zh rouge2", s["rouge2"], 3.0/5, 3.0/5, 3.0/5, 1e-12)
	assertRouge(t, "zh rougeL", s["rougeL"], 4.0/6, 4.0/6, 4.0/6, 1e-12)

	// Mixed script: Latin words stay words, full-width letters fold.
	got := RougeCharTokens("使用ＧＰＴ-4模型 running", true)
	want := []string{"使", "用", "gpt", "4", "模", "型", "run"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("RougeCharTokens = %q, want %q", got, want)
	}

	// Sentence splitting for rougeLsum: two sentences on each side.
	s = rougeScore(t, RougeOptions{Types: []string{"rougeLsum"}, SplitSentences: true}, "我爱北京。你好世界！", "你好世界。我爱上海。")
	// Reference 我爱北京 (4) + 你好世界 (4); candidate 你好世界 + 我爱上海:
	// union LCS hits 我 爱 and 你 好 世 界 → 6 of 8 on each side.
	assertRouge(t, "zh rougeLsum", s["rougeLsum"], 0.75, 0.75, 0.75, 1e-12)
}

func TestRougeChineseWords(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the gse dictionary (about 2 s)")
	}
	toks, err := RougeWordTokens("我们在北京大学学习自然语言处理。Hello!", false)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(toks, "|")
	if !strings.Contains(joined, "北京大学") || !strings.HasSuffix(joined, "|hello") || strings.Contains(joined, "。") {
		t.Errorf("gse tokens = %q", joined)
	}
	s := rougeScore(t, RougeOptions{Tokenizer: RougeTokenizeWords, Types: []string{"rouge1"}}, "我们在北京大学学习", "我们在北京大学学习")
	assertRouge(t, "identical", s["rouge1"], 1, 1, 1, 0)
}

func TestRougeScoreMulti(t *testing.T) {
	r, err := NewRouge(RougeOptions{Types: []string{"rouge1"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.ScoreMulti([]string{"one two three", "testing one two"}, "testing one")
	if err != nil {
		t.Fatal(err)
	}
	assertRouge(t, "best of two", s["rouge1"], 1, 2.0/3, 0.8, 1e-12)
	if _, err := r.ScoreMulti(nil, "x"); err == nil {
		t.Error("no targets: no error")
	}
}
