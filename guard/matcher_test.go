package guard

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func matchStrings(text string, patterns []string, ms []Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%s@%d-%d:%s", patterns[m.Pattern], m.Start, m.End, text[m.Start:m.End])
	}
	return out
}

func newMatcher(t testing.TB, patterns []string, opts MatcherOptions) *Matcher {
	t.Helper()
	m, err := NewMatcher(patterns, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatcherOverlapping(t *testing.T) {
	// The textbook Aho-Corasick example, as substrings.
	pats := []string{"he", "she", "his", "hers"}
	m := newMatcher(t, pats, MatcherOptions{Substring: true})
	got := strings.Join(matchStrings("ushers", pats, m.FindAll("ushers")), " ")
	want := "she@1-4:she he@2-4:he hers@2-6:hers"
	if got != want {
		t.Errorf("FindAll = %s, want %s", got, want)
	}
	got = strings.Join(matchStrings("ushers", pats, m.FindLeftmostLongest("ushers")), " ")
	if want := "she@1-4:she"; got != want {
		t.Errorf("FindLeftmostLongest = %s, want %s", got, want)
	}
}

func TestMatcherChinese(t *testing.T) {
	pats := []string{"炸弹", "自制炸弹", "炸弹制作", "毒品"}
	m := newMatcher(t, pats, MatcherOptions{})
	text := "他在网上搜索自制炸弹制作的方法，还问了毒品。"
	got := matchStrings(text, pats, m.FindAll(text))
	want := []string{"自制炸弹@18-30:自制炸弹", "炸弹@24-30:炸弹", "炸弹制作@24-36:炸弹制作", "毒品@57-63:毒品"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("FindAll =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = matchStrings(text, pats, m.FindLeftmostLongest(text))
	want = []string{"自制炸弹@18-30:自制炸弹", "毒品@57-63:毒品"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("FindLeftmostLongest = %v, want %v", got, want)
	}
}

func TestMatcherFolding(t *testing.T) {
	pats := []string{"make a bomb", "kill"}
	m := newMatcher(t, pats, MatcherOptions{})
	cases := []struct {
		text string
		want int // matches
	}{
		{"How to MAKE A BOMB?", 1},
		{"ｍａｋｅ　ａ　ｂｏｍｂ", 1},       // full-width letters and ideographic spaces
		{"make a b\u200bomb", 1}, // zero-width space inside
		{"skill and killer", 0},  // inside longer words
		{"kill, then kill.", 2},  // punctuation is a boundary
		{"杀kill杀", 1},            // Chinese is a boundary for Latin
		{"kill2", 0},             // digits are word characters
		{"***kill", 0},           // the mask character is too
		{"remake a bomber", 0},
	}
	for _, c := range cases {
		if got := m.Count(c.text); got != c.want {
			t.Errorf("Count(%q) = %d, want %d", c.text, got, c.want)
		}
	}
	sub := newMatcher(t, pats, MatcherOptions{Substring: true})
	if got := sub.Count("skill and killer"); got != 2 {
		t.Errorf("substring Count = %d, want 2", got)
	}
	ms := m.FindAll("ｍａｋｅ ａ ｂｏｍｂ!")
	if len(ms) != 1 || ms[0].Start != 0 || ms[0].End != len("ｍａｋｅ ａ ｂｏｍｂ") {
		t.Errorf("full-width span = %+v", ms)
	}
}

func TestMatcherEdgeCases(t *testing.T) {
	if _, err := NewMatcher([]string{"ok", "\u200b"}, MatcherOptions{}); err == nil {
		t.Error("pattern that folds to nothing accepted")
	}
	m := newMatcher(t, nil, MatcherOptions{})
	if m.Contains("anything") {
		t.Error("empty matcher matched")
	}
	// Astral-plane runes and invalid UTF-8 do not break the scan.
	m = newMatcher(t, []string{"𠀀𠀁", "ab"}, MatcherOptions{Substring: true})
	if got := m.Count("x𠀀𠀁y\xffab"); got != 2 {
		t.Errorf("Count = %d, want 2", got)
	}
	// Duplicates each report.
	m = newMatcher(t, []string{"毒品", "毒品"}, MatcherOptions{})
	if got := m.Count("毒品"); got != 2 {
		t.Errorf("duplicates: %d matches, want 2", got)
	}
}

// TestMatcherAgainstNaive compares with a brute-force search on random
// texts over a small alphabet, where overlaps are frequent.
func TestMatcherAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	alphabet := []rune("ab甲乙")
	word := func(n int) string {
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for trial := 0; trial < 300; trial++ {
		pats := make([]string, 1+rng.IntN(6))
		for i := range pats {
			pats[i] = word(1 + rng.IntN(4))
		}
		text := word(rng.IntN(40))
		m := newMatcher(t, pats, MatcherOptions{Substring: true})
		got := fmt.Sprint(m.FindAll(text))
		var want []Match
		for s := 0; s < len(text); s++ {
			for e := s + 1; e <= len(text); e++ {
				for id, p := range pats {
					if text[s:e] == p {
						want = append(want, Match{id, s, e})
					}
				}
			}
		}
		if got != fmt.Sprint(want) && !(len(want) == 0 && got == "[]") {
			t.Fatalf("patterns %q text %q:\n got %v\nwant %v", pats, text, got, want)
		}
	}
}

// benchLexicon returns n deterministic terms, half Chinese, half English.
func benchLexicon(n int) []string {
	rng := rand.New(rand.NewPCG(1, 1))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var sb strings.Builder
		if i%2 == 0 {
			for k := 0; k < 2+rng.IntN(3); k++ {
				sb.WriteRune(rune(0x4e00 + rng.IntN(3000)))
			}
		} else {
			for k := 0; k < 4+rng.IntN(7); k++ {
				sb.WriteByte(byte('a' + rng.IntN(26)))
			}
		}
		out = append(out, sb.String())
	}
	return out
}

// benchText is about size bytes of mixed Chinese and English with some
// lexicon terms planted.
func benchText(size int, lex []string) string {
	rng := rand.New(rand.NewPCG(2, 2))
	var sb strings.Builder
	for sb.Len() < size {
		switch k := rng.IntN(20); {
		case k == 0:
			sb.WriteString(lex[rng.IntN(len(lex))])
		case k < 12:
			for j := 0; j < 1+rng.IntN(8); j++ {
				sb.WriteRune(rune(0x4e00 + rng.IntN(3000)))
			}
			sb.WriteString("，")
		default:
			for j := 0; j < 1+rng.IntN(9); j++ {
				sb.WriteByte(byte('a' + rng.IntN(26)))
			}
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}

// BenchmarkMatcher measures throughput on mixed zh/en text with a
// 1,000-term lexicon (reported as MB/s).
func BenchmarkMatcher(b *testing.B) {
	lex := benchLexicon(1000)
	m := newMatcher(b, lex, MatcherOptions{})
	text := benchText(1<<20, lex)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		if m.Count(text) == 0 {
			b.Fatal("no matches")
		}
	}
}

// BenchmarkNaiveContains is the peer for BenchmarkMatcher: one
// strings.Contains pass per term, what a simple filter does.
func BenchmarkNaiveContains(b *testing.B) {
	lex := benchLexicon(1000)
	text := strings.ToLower(benchText(1<<20, lex))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, p := range lex {
			if strings.Contains(text, p) {
				n++
			}
		}
		if n == 0 {
			b.Fatal("no matches")
		}
	}
}

// BenchmarkPolicyCheck measures a full policy pass (lexicon, PII, links)
// over the same mixed text.
func BenchmarkPolicyCheck(b *testing.B) {
	text := benchText(1<<20, benchLexicon(1000))
	p := DefaultPolicy()
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		p.Check(StageOutput, text)
	}
}

func TestMatcherHanGaps(t *testing.T) {
	pats := []string{"毒品", "自制炸弹", "make a bomb"}
	m := newMatcher(t, pats, MatcherOptions{HanGaps: true})
	cases := []struct {
		text string
		want []string
	}{
		{"买毒 品吗", []string{"毒品@3-10:毒 品"}},
		{"自-制-炸-弹教程", []string{"自制炸弹@0-15:自-制-炸-弹"}},
		{"自 · 制　炸｜弹", []string{"自制炸弹@0-22:自 · 制　炸｜弹"}},
		{"毒*品", []string{"毒品@0-7:毒*品"}}, // one star splits a word
		{"毒**品", nil}, // two or more are masked text, not a gap
		{"毒 a品", nil}, // only separators may sit between the characters
		{"毒 \n\t—…品", []string{"毒品@0-15:毒 \n\t—…品"}},                // any punctuation and white space
		{"毒 .. .. .. .. ..品", nil},                                  // up to maxHanGap of them
		{"make a  bomb", []string{"make a bomb@0-12:make a  bomb"}}, // a white-space run reads as one space
		{"make a\nbomb", []string{"make a bomb@0-11:make a\nbomb"}},
		{"毒品 and more", []string{"毒品@0-6:毒品"}},
	}
	for _, c := range cases {
		got := matchStrings(c.text, pats, m.FindAll(c.text))
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("FindAll(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	// Patterns are folded the same way.
	m = newMatcher(t, []string{"毒 品"}, MatcherOptions{HanGaps: true})
	if m.Count("毒品") != 1 {
		t.Error("pattern with a gap does not match the plain word")
	}
}
