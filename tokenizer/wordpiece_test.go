package tokenizer

import (
	"strings"
	"testing"
)

func smallWordPiece(t *testing.T, opt WordPieceOptions) *WordPiece {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff", "##able", "!", ",", "中", "文",
		"cafe", "naive", "##s", "a", "Hello"}
	w, err := NewWordPiece(vocab, opt)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWordPieceBasic(t *testing.T) {
	w := smallWordPiece(t, DefaultWordPieceOptions())
	cases := []struct {
		name string
		in   string
		add  bool
		want []string
	}{
		{"lower-case and punctuation", "Hello, World!", false, []string{"hello", ",", "world", "!"}},
		{"greedy longest match with ##", "unaffable", false, []string{"un", "##aff", "##able"}},
		{"no full segmentation is one [UNK]", "unaffablex", false, []string{"[UNK]"}},
		{"CJK split per character", "中文", false, []string{"中", "文"}},
		{"CJK next to latin", "a中a", false, []string{"a", "中", "a"}},
		{"accents stripped", "Café naïve", false, []string{"cafe", "naive"}},
		{"control and format characters dropped (words join), ideographic space splits", "hello\u0000\u200bworld\u3000hello", false, []string{"[UNK]", "hello"}},
		{"special tokens", "hello", true, []string{"[CLS]", "hello", "[SEP]"}},
		{"empty", "", true, []string{"[CLS]", "[SEP]"}},
		{"whitespace only", " \t\n", false, nil},
	}
	for _, c := range cases {
		var got []string
		for _, id := range w.Encode(c.in, c.add) {
			got = append(got, w.Token(id))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: Encode(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
	if got := w.Decode(w.Encode("hello world unaffable", true)); got != "hello world unaffable" {
		t.Errorf("Decode = %q", got)
	}
	// Words longer than the limit are [UNK] without trying.
	opt := DefaultWordPieceOptions()
	opt.MaxChars = 4
	short := smallWordPiece(t, opt)
	if got := short.Encode("hello", false); len(got) != 1 || got[0] != short.Unk() {
		t.Errorf("over-long word: %v", got)
	}
	// Cased model: no lower-casing, no accent stripping.
	cased := smallWordPiece(t, WordPieceOptions{CleanText: true, ChineseChars: true})
	if got := cased.Encode("Hello hello", false); len(got) != 2 || cased.Token(got[0]) != "Hello" || cased.Token(got[1]) != "hello" {
		t.Errorf("cased: %v", got)
	}
}
