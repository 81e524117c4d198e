package chat

import (
	"os"
	"path/filepath"
	"testing"

	"ragtune/internal/shareddata"
)

// qwen3Conversations cover what Qwen3's template does differently from
// Qwen2.5's: no default system prompt, reasoning dropped from history but
// kept after the last user turn, tool results, and enable_thinking.
var qwen3Conversations = []struct {
	name     string
	msgs     []Message
	gen      bool
	thinking any // nil: enable_thinking undefined
	tools    []any
}{
	{"user only", []Message{{Role: "user", Content: "你好"}}, true, nil, nil},
	{"system", []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}, true, nil, nil},
	{"no thinking", []Message{{Role: "user", Content: "2+2?"}}, true, false, nil},
	{"thinking on", []Message{{Role: "user", Content: "2+2?"}}, true, true, nil},
	{"history drops reasoning", []Message{
		{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "<think>\nhmm\n</think>\n\nA1"},
		{Role: "user", Content: "Q2"}}, true, nil, nil},
	{"last assistant keeps reasoning", []Message{
		{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "<think>\nstep\n</think>\n\nA1"}}, false, nil, nil},
	{"tool step", []Message{
		{Role: "system", Content: "S"}, {Role: "user", Content: "weather?"},
		{Role: "assistant", Content: "<think>\nneed tool\n</think>\n\ncalling"},
		{Role: "tool", Content: "sunny"}, {Role: "tool", Content: "20C"}}, true, nil,
		[]any{map[string]any{"type": "function", "function": map[string]any{"name": "weather"}}}},
}

// TestQwen3TemplateMatchesOfficial renders the conversations with
// ragtune's Qwen3Template and with Qwen3's own template from its
// tokenizer_config.json (both through gonja): the prompts must be equal.
func TestQwen3TemplateMatchesOfficial(t *testing.T) {
	dir := shareddata.Path(t, "qwen3-tokenizer")
	official, err := LoadTemplate(dir)
	if err != nil {
		t.Fatal(err)
	}
	own := mustParse(t, Qwen3Template, Special{EOS: "<|im_end|>"})
	if _, err := os.Stat(filepath.Join(dir, "tokenizer_config.json")); err != nil {
		t.Fatal(err)
	}
	for _, c := range qwen3Conversations {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{}
			if c.thinking != nil {
				vars["enable_thinking"] = c.thinking
			}
			if c.tools != nil {
				vars["tools"] = c.tools
			}
			want, err := official.RenderWith(c.msgs, c.gen, vars)
			if err != nil {
				t.Fatal(err)
			}
			got, err := own.RenderWith(c.msgs, c.gen, vars)
			if err != nil {
				t.Fatal(err)
			}
			check(t, c.name, got, want)
		})
	}
}
