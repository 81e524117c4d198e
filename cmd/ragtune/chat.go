package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"ragtune/llm"
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

Commands: /reset starts over, /exit (or Ctrl-D) quits; Ctrl-C stops the
reply being generated. Lines can also come from a pipe, one turn per line.`

func runChat(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", "--model DIR|FILE.gguf [flags]", chatDescription)
	fs.SetOutput(stderr)
	g := addGenFlags(fs)
	system := fs.String("system", "", "system message (R1 recommends none)")
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
	eng, err := g.load(stderr)
	if err != nil {
		return err
	}
	defer eng.Close()
	req, err := g.request(eng)
	if err != nil {
		return err
	}

	interactive := isTerminal(stdin)
	if interactive {
		fmt.Fprintln(stderr, "Type a message; /reset starts over, /exit or Ctrl-D quits, Ctrl-C stops a reply.")
	}
	var history []llm.Message
	reset := func() {
		history = history[:0]
		if *system != "" {
			history = append(history, llm.Message{Role: "system", Content: *system})
		}
	}
	reset()
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20) // a pasted document is one long line
	p := newStreamPrinter(stdout, stderr, g.showThink)
	for {
		if interactive {
			fmt.Fprint(stderr, ">>> ")
		}
		if !in.Scan() {
			if interactive {
				fmt.Fprintln(stderr)
			}
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch {
		case line == "":
			continue
		case line == "/exit" || line == "/quit":
			return nil
		case line == "/reset":
			reset()
			fmt.Fprintln(stderr, "(conversation cleared)")
			continue
		case strings.HasPrefix(line, "/"):
			fmt.Fprintf(stderr, "unknown command %s: /reset starts over, /exit quits\n", line)
			continue
		}

		history = append(history, llm.Message{Role: "user", Content: line})
		req.Messages = history
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		res, err := eng.Generate(ctx, req, p.token)
		stop()
		p.end()
		switch {
		case errors.Is(err, llm.ErrContextLength):
			history = history[:len(history)-1]
			fmt.Fprintf(stderr, "%v\nThe conversation no longer fits; /reset starts a new one.\n", err)
			continue
		case errors.Is(err, context.Canceled):
			// Forget the interrupted turn, so the next one starts clean.
			history = history[:len(history)-1]
			fmt.Fprintln(stderr, "(stopped)")
			continue
		case err != nil:
			return err
		}
		history = append(history, llm.Message{Role: "assistant", Content: res.Text, ReasoningContent: res.Reasoning})
		if !*quiet {
			printStats(stderr, res)
		}
	}
}
