package llm

import (
	"context"
	"strings"
	"testing"

	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// TestArchChatPrompts: the tiny R1-Distill-Llama and Qwen3 models (as
// `model init --preset tiny --arch A` writes them, template included)
// render chat requests in their formats, with and without thinking, and a
// generation separates reasoning from the answer from the first token on.
func TestArchChatPrompts(t *testing.T) {
	for _, c := range []struct {
		arch                string
		tok                 *tokenizer.BPE
		template            string
		prompt, noThinkTail string
		startPhase          phase
	}{
		{"llama", tokenizer.ByteLevelLlama3R1(), chat.R1Template,
			"<｜begin▁of▁sentence｜><｜User｜>你好<｜Assistant｜><think>\n", "<｜Assistant｜><think>\n\n</think>\n\n", phaseThink},
		// Qwen3's prompt does not open the reasoning block: the model
		// writes <think> itself, which the splitter recognizes.
		{"qwen3", tokenizer.ByteLevelQwen3(), chat.Qwen3Template,
			"<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>assistant\n<think>\n\n</think>\n\n", phaseStart},
	} {
		t.Run(c.arch, func(t *testing.T) {
			cfg, err := qwen2.PresetFor("tiny", c.arch)
			if err != nil {
				t.Fatal(err)
			}
			c.tok.ChatTemplate = c.template
			dir := t.TempDir()
			if err := qwen2.Init(dir, cfg, 3, c.tok); err != nil {
				t.Fatal(err)
			}
			l, err := LoadLocal(dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			text := func(ids []int) string {
				var b strings.Builder
				for _, id := range ids {
					b.Write(l.Tokenizer().TokenBytes(id))
				}
				return b.String()
			}
			msgs := []Message{{Role: "user", Content: "你好"}}
			ids, err := l.Prompt(Request{Messages: msgs})
			if err != nil {
				t.Fatal(err)
			}
			if got := text(ids); got != c.prompt {
				t.Errorf("prompt = %q, want %q", got, c.prompt)
			}
			if got := initialPhase(c.prompt); got != c.startPhase {
				t.Errorf("generation starts in phase %d, want %d", got, c.startPhase)
			}
			ids, err = l.Prompt(Request{Messages: msgs, DisableThinking: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := text(ids); !strings.HasSuffix(got, c.noThinkTail) || initialPhase(got) != phaseAnswer {
				t.Errorf("prompt without thinking = %q, want it to end %q", got, c.noThinkTail)
			}
			res, err := collect(t, l, context.Background(), Request{Messages: msgs, MaxTokens: 8, Sampling: &Sampling{Temperature: 0}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.TokenIDs) == 0 {
				t.Error("no tokens generated")
			}
		})
	}
}

// A Qwen3 model that opens its own reasoning: the splitter puts what
// follows <think> in the reasoning and what follows </think> in the answer.
func TestQwen3ThinkSplit(t *testing.T) {
	s := newThinkSplitter(initialPhase("<|im_start|>assistant\n"))
	var r, a string
	for _, piece := range []string{"<th", "ink>\nstep one", "\n</th", "ink>\n\nThe answer."} {
		pr, pa := s.push(piece)
		r, a = r+pr, a+pa
	}
	pr, pa := s.flush()
	r, a = r+pr, a+pa
	if r != "step one" || a != "The answer." {
		t.Errorf("reasoning %q, answer %q", r, a)
	}
}
