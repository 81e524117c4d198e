package guard

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"自制炸弹请联系13812345678或访问hxxp://evil[.]com，也可看example.org",
	"电话+86 138-1234-5678，身份证11010519491231002X，卡4111111111111111，邮箱zhang@example.com，ip 10.1.2.3。想cook meth吗",
	"v6 2001:db8::8a2e:370:7334 and ::1. std::vector 12:30:45",
	"ｍａｋｅ　ａ　ｂｏｍｂ k\u200bill ｅｘａｍｐｌｅ。ｃｏｍ example . com",
	"4111 1111 1111 1111 13812345678 3.13812345678 138****5678",
	"http://例子.中国/路径 bücher.de xn--fsqu00a.xn--fiqs8s (http://a.org/x_(y))",
	"\xff\xfe*1*2*3@x.co 1.2.3.4.5",
}

// FuzzMatcher checks that lexicon matches are well-formed spans and that
// the leftmost-longest selection is a non-overlapping subset of them.
func FuzzMatcher(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	lex := DefaultLexicon()
	f.Fuzz(func(t *testing.T, text string) {
		all := lex.FindAll(text)
		set := map[[2]int]bool{}
		for _, m := range all {
			if m.Start < 0 || m.End > len(text) || m.Start >= m.End {
				t.Fatalf("bad span %d-%d in %q", m.Start, m.End, text)
			}
			set[[2]int{m.Start, m.End}] = true
		}
		last := 0
		for _, m := range lex.FindLeftmostLongest(text) {
			if m.Start < last {
				t.Fatalf("overlapping selection at %d in %q", m.Start, text)
			}
			if !set[[2]int{m.Start, m.End}] {
				t.Fatalf("selected span %d-%d not among all matches", m.Start, m.End)
			}
			last = m.End
		}
	})
}

// FuzzRedact checks that the policy never panics, reports spans inside the
// text, and that redacting already-redacted text changes nothing.
func FuzzRedact(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	policies := []*Policy{DefaultPolicy(), DefaultPolicy()}
	policies[1].Mask = MaskPartial
	for _, p := range policies {
		p.Links = LinkPolicy{Deny: []string{"evil.com", "例子.中国"}, DenyObfuscated: true}
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range policies {
			once, fs := p.Redact(text)
			for _, fd := range fs {
				if fd.Start < 0 || fd.End > len(text) || fd.Start > fd.End {
					t.Fatalf("bad span %d-%d in %q", fd.Start, fd.End, text)
				}
			}
			twice, _ := p.Redact(once)
			if twice != once {
				t.Fatalf("style %d not idempotent:\n in    %q\n once  %q\n twice %q", p.Mask, text, once, twice)
			}
			if p.Mask == MaskStars && utf8.RuneCountInString(once) != utf8.RuneCountInString(text) {
				t.Fatalf("star mask changed the length: %q → %q", text, once)
			}
			for _, st := range []Stage{StageInput, StageOutput, StageRetrieved} {
				_ = p.Check(st, text)
			}
		}
	})
}

// FuzzStream checks that streaming a text in two pieces releases what
// checking it whole gives, for any split.
func FuzzStream(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, uint16(7))
	}
	f.Add(strings.Repeat("It was late. ", 20)+"call +86 138 0013 8000 or pay with card 6222 0212 3456 7890 128", uint16(250))
	p := DefaultPolicy()
	f.Fuzz(func(t *testing.T, text string, at uint16) {
		if !utf8.ValidString(text) {
			return
		}
		c := int(at) % (len(text) + 1)
		s := p.NewStream(StageOutput)
		var got strings.Builder
		for _, part := range []string{text[:c], text[c:]} {
			for _, x := range s.Push(0, part) {
				got.WriteString(x.Text)
			}
		}
		for _, x := range s.Flush() {
			got.WriteString(x.Text)
		}
		whole := p.Check(StageOutput, text)
		if whole.Action == Refuse {
			return // a refusal may come earlier or later in a stream
		}
		if s.Refused() {
			t.Fatalf("stream refused %q, the whole text is not", text)
		}
		if got.String() != whole.Text {
			t.Fatalf("split %d of %q:\n got %q\nwant %q", c, text, got.String(), whole.Text)
		}
	})
}
