package data

import (
	"os"
	"strings"
	"testing"

	"ragtune/internal/shareddata"
	"ragtune/llm/chat"
	"ragtune/tokenizer"
)

// TestEncodeRealR1 renders a medical-o1 row through DeepSeek-R1's own chat
// template with the R1 vocabulary: the prompt ends at <｜Assistant｜>, and
// the labelled tokens are exactly the think block, the answer and EOS,
// although the template strips reasoning from assistant turns.
func TestEncodeRealR1(t *testing.T) {
	tplPath := shareddata.Path(t, "tokenizer-tests", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja")
	tokDir := shareddata.Path(t, "qwen2.5-tokenizer")
	src, err := os.ReadFile(tplPath)
	if err != nil {
		t.Fatal(err)
	}
	q, err := tokenizer.Load(tokDir)
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenizer.R1FromQwen(q)
	tmpl, err := chat.Parse(string(src), chat.Special{BOS: "<｜begin▁of▁sentence｜>", EOS: "<｜end▁of▁sentence｜>"})
	if err != nil {
		t.Fatal(err)
	}
	render := tmpl.Render
	exs, _, err := Read("m.jsonl", []byte(`{"Question": "头痛怎么办？", "Complex_CoT": "Consider causes.", "Response": "Rest and drink water."}`), false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Encode(exs[0], render, tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	var prompt, target []int
	for i, l := range s.Labels {
		if l < 0 {
			prompt = append(prompt, int(s.Tokens[i]))
		} else {
			target = append(target, int(l))
		}
	}
	if got, want := tok.Decode(prompt), "<｜begin▁of▁sentence｜><｜User｜>头痛怎么办？<｜Assistant｜>"; got != want {
		t.Errorf("prompt %q, want %q", got, want)
	}
	if got, want := tok.Decode(target), "<think>\nConsider causes.\n</think>\n\nRest and drink water.<｜end▁of▁sentence｜>"; got != want {
		t.Errorf("target %q, want %q", got, want)
	}
	if got, want := prompt[0], tok.BOS(); got != want {
		t.Errorf("first token %d, want BOS %d", got, want)
	}
	// <think> is one token, as the model generates it.
	think, _ := tok.TokenID("<think>")
	if target[0] != think || strings.Count(tok.Decode(target), "</think>") != 1 {
		t.Errorf("target starts with %d (want <think> %d)", target[0], think)
	}
}

// Without reasoning, an R1-style template (generation prompt ending in
// "<think>\n") gets the empty think block at the end of the masked prompt,
// exactly as DisableThinking prefills it at inference, and the target is
// the bare answer; a template without <think> (Qwen2.5) has no block.
func TestEncodeEmptyThinkBlock(t *testing.T) {
	tok := tokenizer.ByteLevelR1()
	cases := []struct {
		name, tmpl, special, wantPromptEnd, wantTarget string
	}{
		{"r1", chat.R1Template, "<｜begin▁of▁sentence｜>", "<｜Assistant｜><think>\n\n</think>\n\n", "Rest.<｜end▁of▁sentence｜>"},
		{"qwen", chat.QwenTemplate, "", "<|im_start|>assistant\n", "Rest."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := chat.Parse(c.tmpl, chat.Special{BOS: c.special, EOS: "<｜end▁of▁sentence｜>"})
			if err != nil {
				t.Fatal(err)
			}
			render := tmpl.Render
			exs, _, err := Read("a.jsonl", []byte(`{"instruction": "头痛怎么办？", "output": "Rest."}`), false)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Encode(exs[0], render, tok, 0)
			if err != nil {
				t.Fatal(err)
			}
			var prompt, target []int
			for i, l := range s.Labels {
				if l >= 0 {
					target = append(target, int(l))
				} else {
					prompt = append(prompt, int(s.Tokens[i]))
				}
			}
			if got := tok.Decode(prompt); !strings.HasSuffix(got, c.wantPromptEnd) {
				t.Errorf("prompt %q, want it to end with %q", got, c.wantPromptEnd)
			}
			if got := tok.Decode(target); !strings.HasPrefix(got, c.wantTarget) {
				t.Errorf("target %q, want it to start with %q", got, c.wantTarget)
			}
		})
	}
}
