package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ragtune/llm/conversation"
)

func chatCmd(args []string, in *strings.Reader, out, errw *utf8Writer) error {
	return runChat(args, in, out, errw)
}

// TestChatPiped drives a conversation through a pipe: /reset, a turn
// after it, /exit ending the session before the last line. Later turns
// reuse the KV cache of the earlier ones.
func TestChatPiped(t *testing.T) {
	dir := genTestModel(t)
	input := "hello there\n/reset\n你好\n\nsecond turn\n/bogus\n/exit\nnever read\n"
	_, stderr, err := runCLI(t, chatCmd, input, "--model", dir, "--max-tokens", "8", "--temperature", "0")
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, stderr)
	}
	stats := regexp.MustCompile(`prompt (\d+) tokens \((\d+) cached\)`).FindAllStringSubmatch(stderr, -1)
	if len(stats) != 3 {
		t.Fatalf("%d replies, want 3 (stderr %q)", len(stats), stderr)
	}
	n := func(i, j int) int { v, _ := strconv.Atoi(stats[i][j]); return v }
	// After /reset the conversation starts over: only BOS and <｜User｜>
	// are shared with what the cache holds.
	// BOS <｜User｜> 你好 (6 bytes) <｜Assistant｜> <think> \n
	if got, want := n(1, 1), 11; got != want {
		t.Errorf("prompt after /reset = %d tokens, want %d", got, want)
	}
	if n(1, 2) != 2 {
		t.Errorf("after /reset %d tokens cached, want 2 (BOS, <｜User｜>)", n(1, 2))
	}
	// The third turn extends the second: everything up to the previous
	// generation prompt's "<think>\n" is reused.
	if got, want := n(2, 2), n(1, 1)-2; got != want {
		t.Errorf("third turn cached %d tokens, want %d", got, want)
	}
	for _, want := range []string{"(conversation cleared)", "unknown command /bogus"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

func TestChatRejectsArguments(t *testing.T) {
	if _, _, err := runCLI(t, chatCmd, "", "--model", "x", "extra"); err == nil {
		t.Errorf("chat with a positional argument: no error")
	}
}

// TestChatSaveLoad saves a conversation from a piped session, refuses to
// replace it without /save!, and continues it in a second session.
func TestChatSaveLoad(t *testing.T) {
	dir := genTestModel(t)
	saved := filepath.Join(t.TempDir(), "chat.json")
	input := "hello there\n/save " + saved + "\n/save " + saved + "\n/save\n/load /nonexistent.json\n"
	_, stderr, err := runCLI(t, chatCmd, input, "--model", dir, "--max-tokens", "6", "--temperature", "0", "--quiet")
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"(saved 2 messages to " + saved + ")",
		saved + " exists: choose another name, or /save! " + saved + " to replace it",
		"/save needs a file name: /save FILE",
		"load conversation: open /nonexistent.json",
		// The tiny model ends inside <think>: the turn is kept, and the
		// warning says why its answer is empty.
		"warning: no answer: the model ended inside its reasoning (</think> never came); pass --no-think, or ask again",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	c, err := conversation.Load(saved)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Turns) != 2 || c.Turns[0].Content != "hello there" || c.Turns[1].ReasoningContent == "" {
		t.Fatalf("saved turns %+v, want the question and a reply with its reasoning", c.Turns)
	}
	// A second session continues the saved one: its first prompt holds
	// both earlier turns, so it is longer than the same question alone.
	prompt := func(stdin string) int {
		_, stderr, err := runCLI(t, chatCmd, stdin, "--model", dir, "--max-tokens", "2", "--temperature", "0")
		if err != nil {
			t.Fatalf("chat: %v\n%s", err, stderr)
		}
		m := regexp.MustCompile(`prompt (\d+) tokens`).FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no stats in %q", stderr)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	alone, continued := prompt("next\n"), prompt("/load "+saved+"\nnext\n")
	// BOS <｜User｜> "hello there" (11 bytes) <｜Assistant｜> <｜end▁of▁sentence｜>:
	// R1's template drops the reasoning, and the answer is empty.
	if got, want := continued-alone, 14; got != want {
		t.Errorf("continued prompt is %d tokens longer than the question alone, want %d", got, want)
	}
}
