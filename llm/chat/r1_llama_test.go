package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// DeepSeek-R1-Distill-Llama ships the same conversation format as
// R1-Distill-Qwen: its chat template (as llama.cpp's models/templates
// keeps it, testdata/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja, MIT,
// testdata/LICENSE-llama.cpp) renders every R1 reference conversation as
// the reference does, so R1Template, which TestJinjaReference holds to the
// same renderings, is the Llama distill's template too.
func TestR1DistillLlamaTemplate(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	llama := mustParse(t, string(src), r1Special)
	own := mustParse(t, R1Template, r1Special)
	data, err := os.ReadFile(filepath.Join("testdata", "jinja_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []reference
	if err := json.Unmarshal(data, &refs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, r := range refs {
		if r.Template != "r1" {
			continue
		}
		n++
		for name, tpl := range map[string]*Template{"R1-Distill-Llama-8B": llama, "R1Template": own} {
			got, err := tpl.RenderWith(r.Messages, r.AddGenerationPrompt, nil)
			if err != nil {
				t.Fatalf("%s #%d: %v", name, i, err)
			}
			check(t, name+" #"+strconv.Itoa(i), got, r.Output)
		}
	}
	if n < 10 {
		t.Fatalf("only %d R1 reference conversations", n)
	}
}
