package tokenizer

import (
	"fmt"
	"strings"
	"testing"
)

func TestTokenText(t *testing.T) {
	r1 := ByteLevelR1()
	think, _ := r1.TokenID("<think>")
	for _, c := range []struct {
		id   int
		want string
	}{
		{' ', `" "`},
		{'\n', `"\n"`},
		{0xE4, `"\xe4"`}, // the first byte of 你: not UTF-8 alone
		{think, `"<think>"`},
	} {
		if got := TokenText(r1, c.id); got != c.want {
			t.Errorf("TokenText(%d) = %s, want %s", c.id, got, c.want)
		}
	}
}

func TestWriteTokens(t *testing.T) {
	r1 := ByteLevelR1()
	ids := r1.Encode("a\n", true)
	var b strings.Builder
	if err := WriteIDs(&b, ids); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), fmt.Sprintf("%d 97 10\n", r1.BOS()); got != want {
		t.Errorf("WriteIDs: %q, want %q", got, want)
	}
	b.Reset()
	if err := WriteTokenTable(&b, r1, ids); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%7d  %q\n     97  \"a\"\n     10  \"\\n\"\n", r1.BOS(), "<｜begin▁of▁sentence｜>")
	if b.String() != want {
		t.Errorf("WriteTokenTable:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteIDs(&b, nil); err != nil || b.String() != "\n" {
		t.Errorf("no ids: %q, %v", b.String(), err)
	}
}
