package tokenizer

import "testing"

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
