package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
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
