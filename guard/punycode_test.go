package guard

import "testing"

func TestDomainToASCII(t *testing.T) {
	cases := map[string]string{
		"bücher.de":    "xn--bcher-kva.de",
		"München.DE":   "xn--mnchen-3ya.de",
		"例子.中国":        "xn--fsqu00a.xn--fiqs8s",
		"例子。测试":        "xn--fsqu00a.xn--0zwm56d",
		"ＥＸＡＭＰＬＥ．ＣＯＭ":  "example.com",
		"Example.com.": "example.com",
		"xn--fiqs8s":   "xn--fiqs8s",
	}
	for in, want := range cases {
		got, err := DomainToASCII(in)
		if err != nil || got != want {
			t.Errorf("DomainToASCII(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a..b", "."} {
		if _, err := DomainToASCII(bad); err == nil {
			t.Errorf("DomainToASCII(%q) accepted", bad)
		}
	}
}
