package chat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/shareddata"
)

const (
	r1BOS = "<｜begin▁of▁sentence｜>"
	r1EOS = "<｜end▁of▁sentence｜>"
)

var r1Special = Special{BOS: r1BOS, EOS: r1EOS}

// conversation is one rendering case with its expected output, written
// out by hand from reading the reference jinja.
type conversation struct {
	name string
	msgs []Message
	gen  bool
	r1   string // expected from the DeepSeek-R1-Distill template
	qwen string // expected from the Qwen2.5 template
}

var conversations = []conversation{
	{
		name: "single user turn with generation prompt",
		msgs: []Message{{Role: "user", Content: "你好"}},
		gen:  true,
		r1:   r1BOS + "<｜User｜>你好<｜Assistant｜><think>\n",
		qwen: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
	},
	{
		name: "system prompt",
		msgs: []Message{{Role: "system", Content: "Answer briefly."}, {Role: "user", Content: "What is RAG?"}},
		gen:  true,
		// R1 puts the system text right after BOS, with no marker.
		r1: r1BOS + "Answer briefly.<｜User｜>What is RAG?<｜Assistant｜><think>\n",
		qwen: "<|im_start|>system\nAnswer briefly.<|im_end|>\n" +
			"<|im_start|>user\nWhat is RAG?<|im_end|>\n<|im_start|>assistant\n",
	},
	{
		name: "multi-turn history strips reasoning",
		msgs: []Message{
			{Role: "user", Content: "2+2?"},
			{Role: "assistant", Content: "<think>\nadd them\n</think>\n\n4"},
			{Role: "user", Content: "and 3+3?"},
		},
		gen: true,
		// split('</think>')[-1] keeps the "\n\n" after </think>.
		r1: r1BOS + "<｜User｜>2+2?<｜Assistant｜>\n\n4" + r1EOS + "<｜User｜>and 3+3?<｜Assistant｜><think>\n",
		qwen: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nadd them\n</think>\n\n4<|im_end|>\n" +
			"<|im_start|>user\nand 3+3?<|im_end|>\n<|im_start|>assistant\n",
	},
	{
		name: "training form: no generation prompt, last answer included",
		msgs: []Message{
			{Role: "system", Content: "S"},
			{Role: "user", Content: "Q"},
			{Role: "assistant", Content: "A without reasoning"},
		},
		gen:  false,
		r1:   r1BOS + "S<｜User｜>Q<｜Assistant｜>A without reasoning" + r1EOS,
		qwen: "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA without reasoning<|im_end|>\n",
	},
	{
		name: "several </think> keep only the text after the last",
		msgs: []Message{{Role: "user", Content: "x"}, {Role: "assistant", Content: "a</think>b</think>c"}},
		gen:  false,
		r1:   r1BOS + "<｜User｜>x<｜Assistant｜>c" + r1EOS,
		qwen: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\na</think>b</think>c<|im_end|>\n",
	},
	{
		name: "R1 keeps the last system message; Qwen renders a later system turn",
		msgs: []Message{
			{Role: "system", Content: "first"},
			{Role: "user", Content: "u"},
			{Role: "system", Content: "second"},
		},
		gen:  true,
		r1:   r1BOS + "second<｜User｜>u<｜Assistant｜><think>\n",
		qwen: "<|im_start|>system\nfirst<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>system\nsecond<|im_end|>\n<|im_start|>assistant\n",
	},
	{
		name: "tool results",
		msgs: []Message{
			{Role: "user", Content: "weather?"},
			{Role: "tool", Content: "sunny"},
			{Role: "tool", Content: "22C"},
			{Role: "assistant", Content: "Sunny, 22C."},
			{Role: "user", Content: "thanks"},
		},
		gen: true,
		r1: r1BOS + "<｜User｜>weather?<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>sunny<｜tool▁output▁end｜>" +
			"\n<｜tool▁output▁begin｜>22C<｜tool▁output▁end｜><｜tool▁outputs▁end｜>Sunny, 22C." + r1EOS +
			"<｜User｜>thanks<｜Assistant｜><think>\n",
		qwen: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\nweather?<|im_end|>\n<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n22C\n</tool_response><|im_end|>\n" +
			"<|im_start|>assistant\nSunny, 22C.<|im_end|>\n<|im_start|>user\nthanks<|im_end|>\n<|im_start|>assistant\n",
	},
	{
		name: "conversation ending in tool output: R1 closes outputs, no prompt",
		msgs: []Message{{Role: "user", Content: "q"}, {Role: "tool", Content: "r"}},
		gen:  true,
		r1:   r1BOS + "<｜User｜>q<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>r<｜tool▁output▁end｜><｜tool▁outputs▁end｜>",
		qwen: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\nq<|im_end|>\n<|im_start|>user\n<tool_response>\nr\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
	},
	{
		name: "whitespace and braces in content are kept verbatim",
		msgs: []Message{{Role: "user", Content: "  {{ not jinja }} {% raw %}\n\n"}},
		gen:  true,
		r1:   r1BOS + "<｜User｜>  {{ not jinja }} {% raw %}\n\n<｜Assistant｜><think>\n",
		qwen: "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
			"<|im_start|>user\n  {{ not jinja }} {% raw %}\n\n<|im_end|>\n<|im_start|>assistant\n",
	},
}

func render(t *testing.T, tpl *Template, msgs []Message, gen bool) string {
	t.Helper()
	got, err := tpl.Render(msgs, gen)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return got
}

func mustParse(t *testing.T, src string, sp Special) *Template {
	t.Helper()
	tpl, err := Parse(src, sp)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func sharedTemplate(t *testing.T, name string, sp Special) *Template {
	t.Helper()
	src, err := os.ReadFile(shareddata.Path(t, "tokenizer-tests", name))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(src), sp)
}

func check(t *testing.T, name, got, want string) {
	t.Helper()
	if got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: differs at byte %d\n got  %q\n want %q", name, i, got, want)
	}
}

func TestSharedR1Template(t *testing.T) {
	tpl := sharedTemplate(t, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", r1Special)
	for _, c := range conversations {
		check(t, c.name, render(t, tpl, c.msgs, c.gen), c.r1)
	}
}

func TestSharedQwenTemplate(t *testing.T) {
	tpl := sharedTemplate(t, "Qwen-Qwen2.5-7B-Instruct.jinja", Special{EOS: "<|im_end|>"})
	for _, c := range conversations {
		check(t, c.name, render(t, tpl, c.msgs, c.gen), c.qwen)
	}
}

// Our own templates give the same expected strings, so they render
// byte-identically to the references on every conversation above.
func TestOwnTemplates(t *testing.T) {
	r1 := mustParse(t, R1Template, r1Special)
	qw := mustParse(t, QwenTemplate, Special{EOS: "<|im_end|>"})
	for _, c := range conversations {
		check(t, "R1Template: "+c.name, render(t, r1, c.msgs, c.gen), c.r1)
		check(t, "QwenTemplate: "+c.name, render(t, qw, c.msgs, c.gen), c.qwen)
	}
}

// transformers renders with trim_blocks and lstrip_blocks: the newline
// after a block tag and the indentation before it disappear, while
// {{ }} output and {%- -%} trimming behave as in Jinja.
func TestWhitespaceControl(t *testing.T) {
	cases := []struct{ src, want string }{
		{"{% if true %}\nA\n{% endif %}\nB", "A\nB"},
		{"  {% if true %}x{% endif %}", "x"},
		{"a  {%- if true -%}  b  {%- endif -%}  c", "abc"},
		{"{{ 'x' }}\ny", "x\ny"},
		{"a\n{{- 'b' -}}\nc", "abc"},
		{"{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\n", "  1\n  2\n"},
		{"{% set ns = namespace(v='') %}{% for m in messages %}{% set ns.v = m.content %}{% endfor %}{{ ns.v }}", "last"},
	}
	for _, c := range cases {
		tpl := mustParse(t, c.src, Special{})
		check(t, c.src, render(t, tpl, []Message{{Role: "user", Content: "first"}, {Role: "user", Content: "last"}}, false), c.want)
	}
}

func TestRaiseException(t *testing.T) {
	tpl := mustParse(t, "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with a user turn') }}{% endif %}ok", Special{})
	if _, err := tpl.Render([]Message{{Role: "assistant", Content: "x"}}, false); err == nil || !strings.Contains(err.Error(), "must start with a user turn") {
		t.Errorf("err = %v, want the template's message", err)
	}
	if got, err := tpl.Render([]Message{{Role: "user", Content: "x"}}, false); err != nil || got != "ok" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestReasoningContentVariable(t *testing.T) {
	tpl := mustParse(t, "{% for m in messages %}{% if m.reasoning_content %}[{{ m.reasoning_content }}]{% endif %}{{ m.content }}{% endfor %}", Special{})
	got := render(t, tpl, []Message{{Role: "assistant", Content: "A", ReasoningContent: "R"}, {Role: "user", Content: "U"}}, false)
	check(t, "reasoning_content", got, "[R]AU")
}

func TestLoadTemplate(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"bos_token": {"content": "` + r1BOS + `"}, "eos_token": "` + r1EOS + `", "chat_template": ` + jsonQuote(R1Template) + `}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := LoadTemplate(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "from dir", render(t, tpl, conversations[2].msgs, true), conversations[2].r1)
	// The shared Qwen2.5 tokenizer_config.json carries its template.
	if p := filepath.Join(shareddata.Root(), "..", "shared", "data", "qwen2.5-tokenizer"); dirExists(p) {
		q, err := LoadTemplate(filepath.Join(p, "tokenizer_config.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range conversations {
			check(t, "qwen config: "+c.name, render(t, q, c.msgs, c.gen), c.qwen)
		}
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), writeFile(t, dir, "nochat.json", `{"bos_token": null}`), writeFile(t, dir, "broken.json", `{"chat_template": `)} {
		if _, err := LoadTemplate(bad); err == nil {
			t.Errorf("LoadTemplate(%s) succeeded", bad)
		}
	}
	if _, err := Parse("{% if %}", Special{}); err == nil {
		t.Error("broken template parsed")
	}
}

func jsonQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// The server renders from many goroutines with one Template.
func TestConcurrentRender(t *testing.T) {
	tpl := mustParse(t, R1Template, r1Special)
	done := make(chan string, 16)
	for g := 0; g < 16; g++ {
		go func(g int) {
			c := conversations[g%len(conversations)]
			got, err := tpl.Render(c.msgs, c.gen)
			if err != nil {
				done <- err.Error()
				return
			}
			if got != c.r1 {
				done <- "goroutine rendering differs: " + got
				return
			}
			done <- ""
		}(g)
	}
	for g := 0; g < 16; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

// tojson writes Python's json.dumps format, as transformers' chat
// templates get it (gonja's own filter writes compact Go JSON).
func TestToJSONLikePython(t *testing.T) {
	cases := []struct{ src, want string }{
		{`{{ {'b': 1, 'a': [1, 2.5, 'x"y', none, true]} | tojson }}`, `{"b": 1, "a": [1, 2.5, "x\"y", null, true]}`},
		{`{{ {'b': 1, 'a': [1, 2]} | tojson(indent=2) }}`, "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}"},
		{`{{ [] | tojson }}{{ {} | tojson }}`, `[]{}`},
		{`{{ messages[0].content | tojson }}`, `"<中文>\n'&'"`},
	}
	for _, c := range cases {
		tpl := mustParse(t, c.src, Special{})
		check(t, c.src, render(t, tpl, []Message{{Role: "user", Content: "<中文>\n'&'"}}, false), c.want)
	}
	// Go maps (tools decoded from a request) have sorted keys; JSON
	// numbers decoded as float64 print as Python would print the parsed value.
	tpl := mustParse(t, `{{ tools | tojson }}`, Special{})
	got, err := tpl.RenderWith(nil, false, map[string]any{"tools": []any{map[string]any{"z": 3.0, "a": 0.5, "m": 1e-7}}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "map", got, `[{"a": 0.5, "m": 1e-07, "z": 3}]`)
}
