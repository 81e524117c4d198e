package eval

import "testing"

// TestSameSource: a knowledge base's absolute paths match the relative
// file names that test items give, and nothing looser.
func TestSameSource(t *testing.T) {
	for _, tc := range []struct {
		passage, item string
		want          bool
	}{
		{"/w/demo/data/01-pretraining.md", "01-pretraining.md", true},
		{"/w/demo/data/docs/lora.md", "docs/lora.md", true},
		{"/w/demo/data/docs/lora.md", "./docs/lora.md", true},
		{`C:\kb\docs\lora.md`, "lora.md", true},
		{"lora.md", "lora.md", true},
		{"/w/demo/data/qlora.md", "lora.md", false},
		{"/w/demo/data/lora.md.bak", "lora.md", false},
		{"/w/demo/data/lora.md", "", false},
	} {
		if got := sameSource(tc.passage, tc.item); got != tc.want {
			t.Errorf("sameSource(%q, %q) = %v, want %v", tc.passage, tc.item, got, tc.want)
		}
	}
}
