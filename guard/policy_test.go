package guard

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPolicyCheckStages(t *testing.T) {
	p := DefaultPolicy()
	p.Links = LinkPolicy{Deny: []string{"evil.com"}}
	text := "自制炸弹请联系13812345678或访问hxxp://evil[.]com，也可看example.org"
	cases := []struct {
		stage  Stage
		action Action
		text   string
	}{
		{StageInput, Refuse, "****请联系13812345678或访问*****************，也可看example.org"},
		{StageOutput, Refuse, "****请联系***********或访问*****************，也可看example.org"},
		{StageRetrieved, Mask, "****请联系***********或访问*****************，也可看example.org"},
	}
	for _, c := range cases {
		res := p.Check(c.stage, text)
		if res.Action != c.action || res.Text != c.text {
			t.Errorf("%s: action %s text %q\nwant %s %q", c.stage, res.Action, res.Text, c.action, c.text)
		}
		kinds := []string{}
		for _, f := range res.Findings {
			kinds = append(kinds, string(f.Kind)+"/"+f.Category+"/"+f.Action.String())
		}
		if len(res.Findings) != 4 {
			t.Errorf("%s: findings %v, want lexicon, phone, denied url, unlisted url", c.stage, kinds)
		}
	}
	clean := p.Check(StageOutput, "今天天气很好。")
	if clean.Action != Allow || clean.Text != "今天天气很好。" || len(clean.Findings) != 0 {
		t.Errorf("clean text: %+v", clean)
	}
}

func TestRedactStyles(t *testing.T) {
	text := "电话+86 138-1234-5678，身份证11010519491231002X，卡4111111111111111，邮箱zhang@example.com，ip 10.1.2.3。想cook meth吗"
	cases := []struct {
		style MaskStyle
		want  string
	}{
		{MaskStars, "电话*****************，身份证******************，卡****************，邮箱*****************，ip ********。想*********吗"},
		{MaskPartial, "电话+86 138-****-5678，身份证110105********002X，卡************1111，邮箱z****@example.com，ip ********。想*********吗"},
		{MaskLabel, "电话[PHONE]，身份证[ID_CARD]，卡[BANK_CARD]，邮箱[EMAIL]，ip [IPV4]。想[LEXICON:DRUGS]吗"},
	}
	for _, c := range cases {
		p := DefaultPolicy()
		p.Mask = c.style
		got, fs := p.Redact(text)
		if got != c.want {
			t.Errorf("style %d:\n got %s\nwant %s", c.style, got, c.want)
		}
		if len(fs) != 6 {
			t.Errorf("style %d: %d findings, want 6", c.style, len(fs))
		}
		if c.style != MaskLabel {
			again, fs2 := p.Redact(got)
			if again != got || len(fs2) != 0 {
				t.Errorf("style %d: second redaction changed %q to %q (findings %+v)", c.style, got, again, fs2)
			}
		}
	}
	got, _ := Redact("no secrets here")
	if got != "no secrets here" {
		t.Errorf("Redact changed clean text: %q", got)
	}
}

func TestOverlappingLexiconMasked(t *testing.T) {
	l, err := NewLexicon([]Entry{{"炸弹", "weapons"}, {"自制炸弹", "weapons"}, {"炸弹制作", "weapons"}})
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Lexicon: l}
	got, fs := p.Redact("学习自制炸弹制作方法")
	if got != "学习******方法" || len(fs) != 3 {
		t.Errorf("got %q with %d findings, want all three overlapping terms masked", got, len(fs))
	}
}

func TestPolicyJSON(t *testing.T) {
	r := Rule{Stages: []Stage{StageOutput}, Kinds: []Kind{KindPhone}, Action: Refuse}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"stages":["output"],"kinds":["phone"],"action":"refuse"}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
	var back Rule
	if err := json.Unmarshal(b, &back); err != nil || back.Action != Refuse || back.Stages[0] != StageOutput {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"action":"block"}`), &back); err == nil || !strings.Contains(err.Error(), "allow, mask or refuse") {
		t.Errorf("bad action: %v", err)
	}
}
