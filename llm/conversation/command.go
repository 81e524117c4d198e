package conversation

import (
	"context"
	"fmt"
	"strings"

	"ragtune/internal/plural"
	"ragtune/llm"
)

// CommandHelp lists the commands Command runs, for a chat's greeting and
// its unknown-command message.
const CommandHelp = "/save FILE, /load FILE, /reset, /exit"

// Command runs one chat command line (a line starting with "/"): /save
// FILE, /save! FILE (replacing an existing file), /load FILE, /reset,
// /exit or /quit. It returns what to tell the user, or quit for /exit. A
// command that fails (a file that cannot be read) is only a message: the
// conversation stays as it was and the session goes on.
func (c *Conversation) Command(line string) (msg string, quit bool) {
	line = strings.TrimSpace(line)
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch {
	case line == "/exit" || line == "/quit":
		return "", true
	case line == "/reset":
		c.Clear()
		return "(conversation cleared)", false
	case cmd != "/save" && cmd != "/save!" && cmd != "/load":
		return fmt.Sprintf("unknown command %s: %s", cmd, CommandHelp), false
	case arg == "":
		return fmt.Sprintf("%s needs a file name: %s FILE", cmd, cmd), false
	case cmd == "/load":
		loaded, err := Load(arg)
		if err != nil {
			return err.Error(), false
		}
		*c = *loaded
		return fmt.Sprintf("(loaded %s from %s)", plural.Count(len(c.Turns), "message"), arg), false
	}
	if err := Save(arg, c, cmd == "/save!"); err != nil {
		return err.Error(), false
	}
	return fmt.Sprintf("(saved %s to %s)", plural.Count(len(c.Turns), "message"), arg), false
}

// Reply sends text as the next user turn with the conversation so far
// (req's messages are replaced) and records the reply. A turn whose reply
// did not fit the context (llm.ErrContextLength) or was interrupted
// (context.Canceled) is taken back, so the next one starts clean; the
// error says which.
func (c *Conversation) Reply(ctx context.Context, eng llm.Engine, req llm.Request, text string, onToken func(llm.Token) error) (*llm.Result, error) {
	c.Ask(text)
	req.Messages = c.Messages()
	res, err := eng.Generate(ctx, req, onToken)
	if err != nil {
		c.Retract()
		return res, err
	}
	c.Answer(res)
	return res, nil
}
