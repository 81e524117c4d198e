package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"ragtune/internal/lineedit"
	"ragtune/llm"
	"ragtune/llm/conversation"
)

func init() {
	register(&command{
		name:    "chat",
		summary: "multi-turn chat with a model in the terminal",
		run: func(args []string) error {
			return runChat(args, os.Stdin, os.Stdout, os.Stderr)
		},
	})
}

const chatDescription = `
A conversation with a model through its chat template: each line you type
is a user turn, the reply streams back (reasoning dimmed on stderr, or
inline with --show-think). Earlier turns stay in the conversation; as in
DeepSeek-R1's template, their reasoning is not sent again. The KV cache of
the previous turns is reused, so a new turn only runs its own tokens.

On a terminal the line can be edited (arrows, Home/End, Ctrl-A/E/K/U/W)
and Up/Down or Ctrl-R recall earlier lines; the history is kept in the
user's cache directory (~/.cache/ragtune/chat_history on Linux). Ctrl-C
clears the line being typed, or stops the reply being generated; a second
Ctrl-C on the empty line, Ctrl-D or /exit quits.

Commands:
  /save FILE   write the conversation (reasoning included) as JSON;
               /save! FILE replaces an existing file
  /load FILE   continue a saved conversation (or a JSON array of
               {"role", "content"} messages)
  /reset       start over
  /exit        quit

With --backend URL an OpenAI-compatible server generates instead of a
local model (see 'ragtune run --help'); the conversation is sent whole
each turn.

Lines can also come from a pipe, one turn per line (no prompt, no line
editing, no history).

Examples:
  ragtune chat --model ./r1-1.5b
  ragtune chat --model model.gguf --no-think --system "Answer in one sentence."
  ragtune chat --backend http://gpu-box:8000 --backend-model deepseek-r1
  printf 'What is LoRA?\n/save chat.json\n' | ragtune chat --model ./r1-1.5b --quiet`

func runChat(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", "--model DIR|FILE.gguf | --backend URL [flags]", chatDescription)
	fs.SetOutput(stderr)
	g := addGenFlags(fs)
	system := fs.String("system", "", "system message `TEXT` (R1 recommends none)")
	quiet := fs.Bool("quiet", false, "do not print speed figures after each reply")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("chat takes no arguments (got %q); type the messages after it starts", fs.Args())
	}
	if err := g.check(); err != nil {
		return err
	}
	eng, err := g.open(stderr)
	if err != nil {
		return err
	}
	defer eng.close()
	req, err := g.request(eng)
	if err != nil {
		return err
	}

	in := lineedit.New(stdin, stdout, stderr, lineedit.HistoryPath("chat_history"))
	defer in.Close()
	if lineedit.IsTerminal(stdin) {
		fmt.Fprintf(stderr, "Type a message; %s (or Ctrl-D). Ctrl-C clears the line or stops a reply.\n", conversation.CommandHelp)
	}
	conv := &conversation.Conversation{System: *system}
	p := llm.NewStreamPrinter(stdout, stderr, g.showThink, lineedit.IsTerminal(stderr))
	interrupted := false // the last prompt ended in Ctrl-C
	for {
		line, err := in.ReadLine(">>> ")
		switch {
		case errors.Is(err, lineedit.ErrInterrupt):
			if interrupted {
				return nil
			}
			interrupted = true
			fmt.Fprintln(stderr, "(line cleared: Ctrl-C again or Ctrl-D quits)")
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		interrupted = false
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "/") {
			msg, quit := conv.Command(line)
			if quit {
				return nil
			}
			fmt.Fprintln(stderr, msg)
			continue
		}

		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		res, err := conv.Reply(ctx, eng, req, line, p.Token)
		stop()
		p.End()
		switch {
		case errors.Is(err, llm.ErrContextLength):
			fmt.Fprintf(stderr, "%v\nThe conversation no longer fits; /save FILE keeps it, /reset starts a new one.\n", err)
			continue
		case errors.Is(err, context.Canceled):
			fmt.Fprintln(stderr, "(stopped)")
			continue
		case err != nil:
			return err
		}
		if !*quiet {
			fmt.Fprintln(stderr, res.Stats())
		}
		warnNoAnswer(stderr, res, g.maxTokens)
	}
}
