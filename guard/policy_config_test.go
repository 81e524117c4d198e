package guard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("extra.tsv", "secret\t内部代号\n")
	path := write("policy.json", `{
		"lexicon_merge": ["extra.tsv"],
		"links": {"deny": ["evil.com"], "deny_obfuscated": true},
		"rules": [
			{"kinds": ["lexicon"], "categories": ["secret"], "action": "mask"},
			{"stages": ["output"], "kinds": ["phone"], "action": "refuse"}
		],
		"mask": "partial"
	}`)
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	res := p.Check(StageOutput, "内部代号是X，电话13812345678")
	if res.Action != Refuse || res.Text != "****是X，电话138****5678" {
		t.Errorf("got %s %q", res.Action, res.Text)
	}
	// Default lexicon terms stay in the lexicon; with these rules they are
	// reported but allowed.
	res = p.Check(StageOutput, "自制炸弹")
	if res.Action != Allow || len(res.Findings) != 1 {
		t.Errorf("default term: %s with %d findings", res.Action, len(res.Findings))
	}
	if got, _ := p.Redact("电话13812345678"); got != "电话138****5678" {
		t.Errorf("partial mask from config: %q", got)
	}

	for body, wantErr := range map[string]string{
		`{"mask": "blur"}`:                 "unknown mask style",
		`{"lexicon": "missing.tsv"}`:       "missing.tsv",
		`{"links": {"deny": ["a..b"]}}`:    "not a domain",
		`{"rules": [{"action": "block"}]}`: "allow, mask or refuse",
		`{"rulez": []}`:                    "unknown field",
	} {
		_, err := LoadPolicy(write("bad.json", body))
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: err %v, want %q", body, err, wantErr)
		}
	}
	p, err = LoadPolicy(write("none.json", `{"lexicon": "none"}`))
	if err != nil || p.Lexicon != nil {
		t.Errorf("lexicon none: %v, %v", p, err)
	}
}
