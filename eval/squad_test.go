package eval

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestSQuADNormalize(t *testing.T) {
	cases := map[string]string{
		"The Eiffel Tower!":    "eiffel tower",
		"  an   apple, a day ": "apple day",
		"Theory of the anthem": "theory of anthem", // only whole words go
		"A.":                   "",
		"São Paulo's a city":   "são paulos city",
		"the_a":                "thea", // '_' is punctuation, removed before articles
		"北京 the 上海":            "北京 上海",
		"éa b":                 "éa b", // é is a word character, so "a" is not a word here
	}
	for in, want := range cases {
		if got := SQuADNormalize(in); got != want {
			t.Errorf("SQuADNormalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSQuADScores(t *testing.T) {
	cases := []struct {
		pred    string
		answers []string
		em, f1  float64
	}{
		{"Denver Broncos", []string{"Denver Broncos", "The Denver Broncos"}, 1, 1},
		{"the Denver Broncos team", []string{"Denver Broncos"}, 0, 0.8}, // p 2/3, r 1
		{"Broncos", []string{"Denver Broncos", "Carolina Panthers"}, 0, 2.0 / 3},
		{"Panthers", []string{"Denver Broncos"}, 0, 0},
		{"", []string{"x"}, 0, 0},
		{"a", []string{"the"}, 1, 0}, // both normalize to "": EM 1 but F1 0, as in v1.1
		{"one one two", []string{"one two two"}, 0, 2.0 / 3},
	}
	for _, c := range cases {
		em, f1 := SQuADExactMatch(c.pred, c.answers), SQuADF1(c.pred, c.answers)
		assertClose(t, "EM "+c.pred, em, c.em, 0)
		assertClose(t, "F1 "+c.pred, f1, c.f1, 1e-12)
	}
	s, err := ScoreQA(QASQuAD, []string{"Denver Broncos", "Broncos"}, [][]string{{"Denver Broncos"}, {"Denver Broncos"}})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "mean EM", s.EM, 50, 1e-9)
	assertClose(t, "mean F1", s.F1, 100*(1+2.0/3)/2, 1e-9)
	if _, err := ScoreQA(QASQuAD, []string{"a"}, nil); err == nil {
		t.Error("length mismatch: no error")
	}
	if _, err := ScoreQA(QACMRC, []string{"a"}, [][]string{{}}); err == nil {
		t.Error("no answers: no error")
	}
}

func TestCMRCSegment(t *testing.T) {
	cases := []struct {
		in     string
		rmPunc bool
		want   string
	}{
		{"中国的首都是北京。", true, "中|国|的|首|都|是|北|京"},
		{"中国的首都是北京。", false, "中|国|的|首|都|是|北|京|。"},
		{"iPhone 12发布于2020年", true, "iphone|12|发|布|于|2020|年"},
		{"《红楼梦》", true, "红|楼|梦"},
		{"COVID-19疫情", true, "covid19|疫|情"}, // '-' is removed without splitting the run
		{"  Hello, World!  ", true, "hello|,|world|!"},
	}
	for _, c := range cases {
		if got := strings.Join(CMRCSegment(c.in, c.rmPunc), "|"); got != c.want {
			t.Errorf("CMRCSegment(%q, %v) = %q, want %q", c.in, c.rmPunc, got, c.want)
		}
	}
}

func TestCMRCScores(t *testing.T) {
	cases := []struct {
		pred    string
		answers []string
		em, f1  float64
	}{
		{"北京", []string{"北京"}, 1, 1},
		{"北京。", []string{"北京"}, 1, 1},
		{"是北京", []string{"北京", "北京市"}, 0, 0.8},                          // vs 北京: p 2/3 r 1
		{"北京市", []string{"北京市区"}, 0, 2 * 0.75 / 1.75},                   // p 1 r 3/4
		{"京北", []string{"北京"}, 0, 2 * 0.5 * 0.5 / 1.0},                  // common run 1: p 1/2 r 1/2
		{"北上京", []string{"北京"}, 0, 2 * (1.0 / 3) * 0.5 / (1.0/3 + 0.5)}, // substring, not subsequence
		{"上海", []string{"北京"}, 0, 0},
		{"1990年", []string{"1990年"}, 1, 1},
		{"NBA总冠军", []string{"nba总冠军"}, 1, 1},
	}
	for _, c := range cases {
		assertClose(t, "EM "+c.pred, CMRCExactMatch(c.pred, c.answers), c.em, 0)
		assertClose(t, "F1 "+c.pred, CMRCF1(c.pred, c.answers), c.f1, 1e-12)
	}
}

// TestEnglishWordTokensNLTK compares with NLTK's Treebank word tokenizer;
// regenerate with `/usr/bin/python3 scripts/eval_nltk_tokenize_golden.py`.
func TestEnglishWordTokensNLTK(t *testing.T) {
	f, err := os.Open("testdata/nltk_word_tokenize.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		text, want, _ := strings.Cut(sc.Text(), "\t")
		n++
		if got := strings.Join(englishWordTokens(text), "\u241f"); got != want {
			t.Errorf("englishWordTokens(%q) = %q, NLTK %q", text, got, want)
		}
	}
	if n < 40 {
		t.Errorf("only %d cases", n)
	}
}
