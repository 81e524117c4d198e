package conversation

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/llm"
)

func TestCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	c := &Conversation{}
	c.Ask("hi")
	c.Answer(&llm.Result{Text: "hello"})
	steps := []struct {
		line, want string
		quit       bool
		turns      int
	}{
		{"/save", "/save needs a file name: /save FILE", false, 2},
		{"/save " + path, "(saved 2 messages to " + path + ")", false, 2},
		{"/save " + path, path + " exists: choose another name, or /save! " + path + " to replace it", false, 2},
		{"/reset", "(conversation cleared)", false, 0},
		{"/load  " + path + " ", "(loaded 2 messages from " + path + ")", false, 2},
		{"/load " + path + ".missing", "load conversation: open " + path + ".missing: no such file or directory", false, 2},
		{"/save! " + path, "(saved 2 messages to " + path + ")", false, 2},
		{"/frobnicate x", "unknown command /frobnicate: " + CommandHelp, false, 2},
		{"/exit now", "unknown command /exit: " + CommandHelp, false, 2},
		{"/quit", "", true, 2},
		{"/exit", "", true, 2},
	}
	for _, s := range steps {
		msg, quit := c.Command(s.line)
		if msg != s.want || quit != s.quit || len(c.Turns) != s.turns {
			t.Errorf("%q: %q quit=%v turns=%d, want %q quit=%v turns=%d", s.line, msg, quit, len(c.Turns), s.want, s.quit, s.turns)
		}
	}
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), `"hello"`) {
		t.Errorf("saved file: %v %s", err, b)
	}
}

// fakeEngine answers with text, or fails with err, and keeps the request.
type fakeEngine struct {
	text string
	err  error
	got  llm.Request
}

func (e *fakeEngine) Generate(_ context.Context, req llm.Request, onToken func(llm.Token) error) (*llm.Result, error) {
	e.got = req
	if e.err != nil {
		return nil, e.err
	}
	if onToken != nil {
		onToken(llm.Token{Text: e.text})
	}
	return &llm.Result{Text: e.text, Reasoning: "r"}, nil
}

func TestReply(t *testing.T) {
	c := &Conversation{System: "Be brief."}
	eng := &fakeEngine{text: "hello"}
	var streamed strings.Builder
	res, err := c.Reply(context.Background(), eng, llm.Request{MaxTokens: 9}, "hi", func(tk llm.Token) error { streamed.WriteString(tk.Text); return nil })
	if err != nil || res.Text != "hello" || streamed.String() != "hello" || len(c.Turns) != 2 || c.Turns[1].ReasoningContent != "r" {
		t.Fatalf("reply: %v %+v, turns %+v", err, res, c.Turns)
	}
	if len(eng.got.Messages) != 2 || eng.got.Messages[0].Role != "system" || eng.got.MaxTokens != 9 {
		t.Errorf("request %+v", eng.got)
	}
	for _, fail := range []error{llm.ErrContextLength, context.Canceled, errors.New("boom")} {
		eng.err = fail
		if _, err := c.Reply(context.Background(), eng, llm.Request{}, "again", nil); !errors.Is(err, fail) {
			t.Errorf("%v: got %v", fail, err)
		}
		if len(c.Turns) != 2 {
			t.Errorf("%v: %d turns, want the failed one taken back", fail, len(c.Turns))
		}
	}
}
