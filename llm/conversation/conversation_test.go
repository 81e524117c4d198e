package conversation

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/llm"
)

func TestSaveLoadKeepsReasoning(t *testing.T) {
	c := &Conversation{System: "Be brief."}
	c.Ask("什么是 LoRA？")
	c.Answer(&llm.Result{Text: "低秩适配。", Reasoning: "The user asks about LoRA."})
	c.Ask("and QLoRA?")
	c.Answer(&llm.Result{Text: "LoRA on a 4-bit base.", Reasoning: "QLoRA quantizes the base."})
	path := filepath.Join(t.TempDir(), "chat.json")
	if err := Save(path, c, false); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("loaded %+v, want %+v", got, c)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`"schema": "ragtune.chat/v1"`, `"role": "system"`, `"reasoning_content": "QLoRA quantizes the base."`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("saved file lacks %s:\n%s", want, b)
		}
	}
	// A second save to the same name refuses, and says how to replace it.
	if err := Save(path, c, false); err == nil || !strings.Contains(err.Error(), "/save! "+path) {
		t.Errorf("save over an existing file: %v, want a refusal naming /save!", err)
	}
	c.Clear()
	c.Ask("new")
	if err := Save(path, c, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := Load(path); len(got.Turns) != 1 || got.System != "Be brief." {
		t.Errorf("after /save!: %+v", got)
	}
}

func TestLoadForms(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write("array.json", `[{"role":"user","content":"hi"},{"role":"assistant","content":"hello","reasoning_content":"greet"}]`))
	if err != nil || len(c.Turns) != 2 || c.Turns[1].ReasoningContent != "greet" || c.System != "" {
		t.Errorf("bare array: %+v, %v", c, err)
	}
	bad := []struct{ name, body, want string }{
		{"role.json", `[{"role":"user","content":"a"},{"role":"system","content":"late"}]`, `message 2 has role "system"`},
		{"empty.json", `{"messages":[]}`, "no user or assistant messages"},
		{"schema.json", `{"schema":"other/v9","messages":[{"role":"user","content":"a"}]}`, `schema "other/v9"`},
		{"text.json", `hello`, "want a file written by /save"},
	}
	for _, tc := range bad {
		if _, err := Load(write(tc.name, tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Errorf("missing file: no error")
	}
}

func TestRetractAndMessages(t *testing.T) {
	c := &Conversation{System: "s"}
	c.Ask("q1")
	c.Retract()
	c.Retract() // nothing left: no panic
	c.Ask("q2")
	got := c.Messages()
	want := []llm.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "q2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("messages %+v, want %+v", got, want)
	}
}
