package cli

import "testing"

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		text, indent string
		width        int
		want         string
	}{
		{"a bb ccc dddd", "", 6, "a bb\nccc\ndddd"},
		{"Presets: tiny, tiny-llama, r1-distill-qwen-1.5b.", "  ", 20, "Presets: tiny,\n  tiny-llama,\n  r1-distill-qwen-1.5b."},
		{"  spaced   out  ", "", 80, "spaced out"},
		{"", "", 10, ""},
	} {
		if got := Wrap(c.text, c.width, c.indent); got != c.want {
			t.Errorf("Wrap(%q, %d, %q) = %q, want %q", c.text, c.width, c.indent, got, c.want)
		}
	}
}
