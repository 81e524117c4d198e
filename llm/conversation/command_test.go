package conversation

import (
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
