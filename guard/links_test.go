package guard

import (
	"fmt"
	"strings"
	"testing"
)

func linkStrings(text string, ls []Link) []string {
	var out []string
	for _, l := range ls {
		obf := ""
		if l.Obfuscated {
			obf = " obfuscated"
		}
		out = append(out, fmt.Sprintf("%s → %s%s", text[l.Start:l.End], l.Host, obf))
	}
	return out
}

func TestFindLinks(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"see https://www.example.com/a?b=1.", []string{"https://www.example.com/a?b=1 → www.example.com"}},
		{"请访问example.com获取资料", []string{"example.com → example.com"}},
		{"(docs at http://example.org/x_(y))", []string{"http://example.org/x_(y) → example.org"}},
		{"hxxp://evil.example[.]com/payload", []string{"hxxp://evil.example[.]com/payload → evil.example.com obfuscated"}},
		{"hXXps://phish(dot)net", []string{"hXXps://phish(dot)net → phish.net obfuscated"}},
		{"go to evil [.] com now", []string{"evil [.] com → evil.com obfuscated"}},
		{"访问ｅｘａｍｐｌｅ。ｃｏｍ吧", []string{"ｅｘａｍｐｌｅ。ｃｏｍ → example.com obfuscated"}},
		{"site example . com is up", []string{"example . com → example.com obfuscated"}},
		{"IDN http://例子.中国/路径 and bücher.de", []string{"http://例子.中国/路径 → xn--fsqu00a.xn--fiqs8s", "bücher.de → xn--bcher-kva.de"}},
		{"punycode xn--fsqu00a.xn--fiqs8s", []string{"xn--fsqu00a.xn--fiqs8s → xn--fsqu00a.xn--fiqs8s"}},
		{"ip http://192.168.0.1:8080/admin", []string{"http://192.168.0.1:8080/admin → 192.168.0.1"}},
		// Not links: e-mail domains, file names, version numbers, prose.
		{"mail zhang.san@example.com", nil},
		{"edit readme.md and main.py, v1.2.3", nil},
		{"我去了北京。中国很大。", nil},
		{"end of sentence. Next one", nil},
	}
	for _, c := range cases {
		got := linkStrings(c.text, FindLinks(c.text))
		if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
			t.Errorf("FindLinks(%q)\n got %q\nwant %q", c.text, got, c.want)
		}
	}
}

func TestLinkPolicy(t *testing.T) {
	p := LinkPolicy{
		Allow:          []string{"example.com", "例子.中国"},
		Deny:           []string{"evil.com", "bad.example.com", "casino.pl"},
		DenyObfuscated: true,
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"https://example.com":           LinkAllowed,
		"https://docs.example.com":      LinkAllowed,
		"https://bad.example.com/x":     LinkDenied, // longer entry wins
		"https://x.bad.example.com":     LinkDenied,
		"https://notevil.com":           LinkUnlisted,
		"https://evil.com":              LinkDenied,
		"https://a.b.evil.com":          LinkDenied,
		"http://xn--fsqu00a.xn--fiqs8s": LinkAllowed,
		"other[.]org":                   LinkDenied, // obfuscated and not allow-listed
		"example[.]com":                 LinkAllowed,
		"visit casino.pl today":         LinkDenied, // .pl found because the policy names it
	}
	for text, want := range cases {
		ls := p.FindLinks(text)
		if len(ls) != 1 {
			t.Errorf("%q: %d links found, want 1", text, len(ls))
			continue
		}
		if got := p.Verdict(ls[0]); got != want {
			t.Errorf("%q (%s): verdict %s, want %s", text, ls[0].Host, got, want)
		}
	}
	strict := LinkPolicy{Allow: []string{"example.com"}, DenyUnlisted: true}
	if got := strict.Verdict(FindLinks("https://other.net")[0]); got != LinkDenied {
		t.Errorf("allow-list mode: %s, want denied", got)
	}
	if err := (LinkPolicy{Deny: []string{"a..b"}}).Validate(); err == nil {
		t.Error("bad entry accepted")
	}
}
