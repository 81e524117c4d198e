package guard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultLexicon(t *testing.T) {
	l := DefaultLexicon()
	got := strings.Join(l.Categories(), ",")
	want := "drugs,fraud,hate,minors_sexual,self_harm,violence,weapons"
	if got != want {
		t.Errorf("categories %s, want %s", got, want)
	}
	perCat := map[string][2]int{} // zh, en counts
	for _, e := range l.Entries() {
		c := perCat[e.Category]
		if containsHan(e.Term) {
			c[0]++
		} else {
			c[1]++
		}
		perCat[e.Category] = c
	}
	for cat, c := range perCat {
		if c[0] < 5 || c[1] < 5 {
			t.Errorf("category %s has %d Chinese and %d English terms, want ≥ 5 each", cat, c[0], c[1])
		}
	}
	// Inside longer Chinese text, and mixed case in English.
	text := "请问在家自制炸弹需要什么材料？另外 How To COOK METH at home"
	var found []string
	for _, m := range l.FindAll(text) {
		found = append(found, m.Category+":"+text[m.Start:m.End])
	}
	if got, want := strings.Join(found, " "), "weapons:自制炸弹 drugs:COOK METH"; got != want {
		t.Errorf("found %q, want %q", got, want)
	}
	// Benign mentions stay clean.
	for _, benign := range []string{
		"警方捣毁一个制毒窝点，缴获毒品。",
		"Use kill -9 to kill the process.",
		"The history of chemical weapons treaties.",
		"如何预防自杀？请拨打心理援助热线。",
	} {
		if ms := l.FindAll(benign); len(ms) > 0 {
			t.Errorf("benign %q matched %+v", benign, ms)
		}
	}
}

func TestLexiconFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "custom.tsv")
	if err := os.WriteFile(path, []byte("# custom\nsecret\t内部代号\nsecret\tProject X\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := LoadLexicon(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(l.FindAll("关于内部代号和 project x 的讨论")); got != 2 {
		t.Errorf("custom lexicon found %d, want 2", got)
	}
	over := filepath.Join(dir, "over.tsv")
	if err := os.WriteFile(over, []byte("-\t自制炸弹\nweapons\tcustom weapon\nviolence\tmake a bomb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	merged, err := MergeLexiconFile(DefaultLexicon(), over)
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.FindAll("自制炸弹")) != 0 {
		t.Error("removed term still matches")
	}
	ms := merged.FindAll("make a bomb with a custom weapon")
	if len(ms) != 2 || ms[0].Category != "violence" || ms[1].Category != "weapons" {
		t.Errorf("merged matches %+v", ms)
	}
	if len(DefaultLexicon().FindAll("自制炸弹")) != 1 {
		t.Error("merge changed the default lexicon")
	}
	bad := filepath.Join(dir, "bad.tsv")
	if err := os.WriteFile(bad, []byte("no tab here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLexicon(bad); err == nil || !strings.Contains(err.Error(), "bad.tsv:1") {
		t.Errorf("bad line: err = %v, want file:line", err)
	}
	if _, err := LoadLexicon(filepath.Join(dir, "missing.tsv")); err == nil {
		t.Error("missing file: no error")
	}
}

func containsHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}
