// Package chat renders conversations into prompt text with a model's own
// Jinja chat template (tokenizer_config.json's chat_template), through
// the gonja Jinja engine configured as transformers configures Jinja
// (trim_blocks, lstrip_blocks), so any model's template renders as it
// does in Python. It also holds ragtune's own R1 and Qwen2.5 templates,
// which `model init` writes into new model directories.
//
// It does not tokenize (package tokenizer) or generate (package llm).
package chat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"ragtune/tokenizer"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// Message is one turn of a conversation. ReasoningContent carries an
// assistant's reasoning separately, for templates that render it (the R1
// template instead drops everything up to </think> from Content).
type Message struct {
	Role             string `json:"role"`
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content,omitempty"`
}

// Special holds the token texts a template may refer to as bos_token and
// eos_token.
type Special struct {
	BOS string
	EOS string
}

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	// Source is the Jinja text.
	Source  string
	special Special
	tpl     *exec.Template
}

// Parse compiles a Jinja chat template.
func Parse(source string, special Special) (*Template, error) {
	if strings.TrimSpace(source) == "" {
		return nil, errors.New("parse chat template: empty template")
	}
	// transformers renders chat templates with trim_blocks and
	// lstrip_blocks on; without them, templates that lay out blocks on
	// separate lines render extra newlines and indentation.
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	cfg.KeepTrailingNewline = false
	base, err := loaders.NewFileSystemLoader("")
	if err != nil {
		return nil, fmt.Errorf("parse chat template: %w", err)
	}
	loader, err := loaders.NewShiftedLoader("chat_template", strings.NewReader(source), base)
	if err != nil {
		return nil, fmt.Errorf("parse chat template: %w", err)
	}
	tpl, err := exec.NewTemplate("chat_template", cfg, loader, environment)
	if err != nil {
		return nil, fmt.Errorf("parse chat template: %w", err)
	}
	return &Template{Source: source, special: special, tpl: tpl}, nil
}

// LoadTemplate reads the chat template of a model: from a directory's
// tokenizer_config.json, from a tokenizer_config.json given directly, or
// from a .jinja file (then bos/eos come from a tokenizer_config.json
// beside it, when there is one).
func LoadTemplate(dirOrFile string) (*Template, error) {
	st, err := os.Stat(dirOrFile)
	if err != nil {
		return nil, fmt.Errorf("load chat template: %w", err)
	}
	cfgPath := dirOrFile
	if st.IsDir() {
		cfgPath = filepath.Join(dirOrFile, "tokenizer_config.json")
	}
	if !strings.HasSuffix(cfgPath, ".json") {
		src, err := os.ReadFile(dirOrFile)
		if err != nil {
			return nil, fmt.Errorf("load chat template: %w", err)
		}
		var sp Special
		if c, err := tokenizer.ReadChatConfig(filepath.Join(filepath.Dir(dirOrFile), "tokenizer_config.json")); err == nil {
			sp = Special{BOS: c.BOS, EOS: c.EOS}
		}
		t, err := Parse(string(src), sp)
		if err != nil {
			return nil, fmt.Errorf("load chat template %q: %w", dirOrFile, err)
		}
		return t, nil
	}
	c, err := tokenizer.ReadChatConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("load chat template: %w", err)
	}
	src := c.Template
	if src == "" {
		return nil, fmt.Errorf("load chat template: %q has no chat_template (the model may be a base model without a chat format)", cfgPath)
	}
	t, err := Parse(src, Special{BOS: c.BOS, EOS: c.EOS})
	if err != nil {
		return nil, fmt.Errorf("load chat template %q: %w", cfgPath, err)
	}
	return t, nil
}

// Render renders msgs; addGenerationPrompt appends the start of an
// assistant turn (for R1, "<｜Assistant｜><think>\n").
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	return t.RenderWith(msgs, addGenerationPrompt, nil)
}

// errRaised carries the message of the template's raise_exception.
type errRaised struct{ msg string }

func (e errRaised) Error() string { return "chat template: " + e.msg }

// RenderWith is Render with extra template variables (for example
// "tools" or "enable_thinking").
func (t *Template) RenderWith(msgs []Message, addGenerationPrompt bool, vars map[string]any) (string, error) {
	list := make([]any, len(msgs))
	for i, m := range msgs {
		mm := map[string]any{"role": m.Role, "content": m.Content}
		if m.ReasoningContent != "" {
			mm["reasoning_content"] = m.ReasoningContent
		}
		list[i] = mm
	}
	var raised *errRaised
	data := map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             t.special.BOS,
		"eos_token":             t.special.EOS,
		"tools":                 nil,
		"raise_exception": func(msg string) (string, error) {
			raised = &errRaised{msg}
			return "", *raised
		},
		"strftime_now": func(format string) string { return strftime(time.Now(), format) },
	}
	for k, v := range vars {
		data[k] = v
	}
	var buf bytes.Buffer
	if err := t.tpl.Execute(&buf, exec.NewContext(data)); err != nil {
		if raised != nil {
			return "", *raised
		}
		return "", fmt.Errorf("render chat template: %w", err)
	}
	return buf.String(), nil
}

// strftime covers the directives chat templates use for today's date.
func strftime(t time.Time, format string) string {
	r := strings.NewReplacer("%Y", "2006", "%m", "01", "%d", "02", "%B", "January", "%b", "Jan", "%H", "15", "%M", "04", "%S", "05", "%A", "Monday", "%a", "Mon")
	return t.Format(r.Replace(format))
}
