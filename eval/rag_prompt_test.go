package eval

import (
	"strings"
	"testing"
)

// TestRAGPromptLabelsPassagesByFileName checks that a passage's place on
// disk does not reach the prompt: knowledge bases store absolute paths, and
// printing them made every RAG score depend on the directory the files
// were ingested from.
func TestRAGPromptLabelsPassagesByFileName(t *testing.T) {
	at := func(dir string) []Passage {
		return []Passage{
			{ID: dir + "/corpus/lora.md#0", Source: dir + "/corpus/lora.md", Text: "LoRA 只训练两个低秩矩阵。"},
			{ID: dir + "/corpus/quant.md#3", Source: dir + "/corpus/quant.md", Text: "Q8_0 blocks hold 32 weights."},
		}
	}
	for _, lang := range []string{"zh", "en"} {
		a := RAGPrompt("LoRA 训练什么？", at("/tmp/TestDemo123/001/demo/data"), lang)
		b := RAGPrompt("LoRA 训练什么？", at("/home/someone/work/ragtune-demo/data"), lang)
		c := RAGPrompt("LoRA 训练什么？", at(`C:\Users\someone\ragtune-demo\data`), lang)
		if a != b || a != c {
			t.Errorf("%s: the prompt depends on where the files lie:\n%s\n---\n%s\n---\n%s", lang, a, b, c)
		}
		if !strings.Contains(a, "[1] lora.md\n") || !strings.Contains(a, "[2] quant.md\n") {
			t.Errorf("%s: passages are not labelled by file name:\n%s", lang, a)
		}
	}
	// Sources that are already bare names (the built-in passages) keep them.
	if got := sourceLabel("lora.md"); got != "lora.md" {
		t.Errorf("sourceLabel(lora.md) = %q", got)
	}
}

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
