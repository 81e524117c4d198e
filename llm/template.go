package llm

import (
	"ragtune/llm/chat"
	"ragtune/tokenizer"
)

// varsTemplate is a Template that takes extra variables, such as Qwen3's
// enable_thinking; *chat.Template has it.
type varsTemplate interface {
	RenderWith(msgs []Message, addGenerationPrompt bool, vars map[string]any) (string, error)
}

// render renders msgs with the generation prompt. For DisableThinking it
// passes enable_thinking=false, which templates with a thinking switch
// (Qwen3) honour and others ignore; closeThinking handles the R1 kind.
func render(t Template, msgs []Message, disableThinking bool) (string, error) {
	if vt, ok := t.(varsTemplate); ok && disableThinking {
		return vt.RenderWith(msgs, true, map[string]any{"enable_thinking": false})
	}
	return t.Render(msgs, true)
}

func loadTemplate(dir string) (Template, error) {
	t, err := chat.LoadTemplate(dir)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// parseTemplate compiles a GGUF file's tokenizer.chat_template, with the
// bos/eos texts from its vocabulary.
func parseTemplate(src string, tok *tokenizer.BPE) (*chat.Template, error) {
	var sp chat.Special
	if id := tok.BOS(); id >= 0 {
		sp.BOS = string(tok.TokenBytes(id))
	}
	if id := tok.EOS(); id >= 0 {
		sp.EOS = string(tok.TokenBytes(id))
	}
	t, err := chat.Parse(src, sp)
	if err != nil {
		return nil, err
	}
	return t, nil
}
