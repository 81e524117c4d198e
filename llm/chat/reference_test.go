package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"ragtune/internal/shareddata"
)

// reference is one rendering by @huggingface/jinja of a shared template
// (scripts/tokenizer_chat_goldens.mjs).
type reference struct {
	Template            string    `json:"template"`
	Messages            []Message `json:"messages"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	Tools               []any     `json:"tools"`
	Output              string    `json:"output"`
}

// Another Jinja implementation's renderings of the shared templates are
// matched by gonja on the same templates and by our own templates, which
// needs no ../shared.
func TestJinjaReference(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "jinja_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []reference
	if err := json.Unmarshal(data, &refs); err != nil {
		t.Fatal(err)
	}
	if len(refs) < 50 {
		t.Fatalf("only %d reference renderings", len(refs))
	}
	own := map[string]*Template{
		"r1":   mustParse(t, R1Template, r1Special),
		"qwen": mustParse(t, QwenTemplate, Special{EOS: "<|im_end|>"}),
	}
	shared := map[string]*Template{}
	files := map[string]string{"r1": "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "qwen": "Qwen-Qwen2.5-7B-Instruct.jinja"}
	for name, file := range files {
		if src, err := os.ReadFile(filepath.Join(shareddata.Root(), "..", "shared", "data", "tokenizer-tests", file)); err == nil {
			shared[name] = mustParse(t, string(src), own[name].special)
		}
	}
	if len(shared) == 0 {
		t.Log("../shared absent: checking our own templates only")
	}
	withTools := 0
	for i, r := range refs {
		var vars map[string]any
		if r.Tools != nil {
			vars = map[string]any{"tools": r.Tools}
			withTools++
		}
		for name, tpl := range map[string]*Template{"own": own[r.Template], "shared": shared[r.Template]} {
			if tpl == nil {
				continue
			}
			got, err := tpl.RenderWith(r.Messages, r.AddGenerationPrompt, vars)
			if err != nil {
				t.Fatalf("%s %s #%d: %v", name, r.Template, i, err)
			}
			check(t, name+" "+r.Template+" #"+strconv.Itoa(i), got, r.Output)
		}
	}
	if withTools == 0 {
		t.Error("no reference rendering has tools")
	}
}
