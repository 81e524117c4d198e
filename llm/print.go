package llm

import (
	"fmt"
	"io"
	"strings"
	"time"

	"ragtune/internal/plural"
)

// StreamPrinter writes streamed tokens for a reader at a terminal or a
// pipe: the answer to the output, the reasoning apart from it on the
// error stream (dimmed where Dim says the stream is a terminal), or with
// ShowThink inline in the output between <think> and </think>, so a
// script that reads stdout gets only the answer by default.
type StreamPrinter struct {
	out, errw   io.Writer
	showThink   bool
	dim         bool
	inThink     bool
	wroteAny    bool
	lastNewline bool
}

// NewStreamPrinter returns a printer writing the answer to out and the
// reasoning to errw (or inline in out with showThink); dim wraps the
// reasoning on errw in the terminal's faint style.
func NewStreamPrinter(out, errw io.Writer, showThink, dim bool) *StreamPrinter {
	return &StreamPrinter{out: out, errw: errw, showThink: showThink, dim: dim}
}

// Token writes one streamed token; it is an Engine.Generate callback.
func (p *StreamPrinter) Token(t Token) error {
	switch {
	case t.Reasoning && !p.inThink:
		p.inThink = true
		if p.showThink {
			io.WriteString(p.out, "<think>\n")
		} else if p.dim {
			io.WriteString(p.errw, "\x1b[2m")
		}
	case !t.Reasoning && p.inThink:
		p.closeThink()
	}
	w := p.out
	if t.Reasoning && !p.showThink {
		w = p.errw
	}
	_, err := io.WriteString(w, t.Text)
	if w == p.out {
		p.wroteAny = true
		p.lastNewline = strings.HasSuffix(t.Text, "\n")
	}
	return err
}

func (p *StreamPrinter) closeThink() {
	p.inThink = false
	if p.showThink {
		io.WriteString(p.out, "\n</think>\n\n")
		return
	}
	if p.dim {
		io.WriteString(p.errw, "\x1b[0m")
	}
	io.WriteString(p.errw, "\n")
}

// End finishes one generation: it closes a reasoning block left open and
// ends the answer with a newline, and readies the printer for the next
// generation (a chat's next turn).
func (p *StreamPrinter) End() {
	if p.inThink {
		p.closeThink()
	}
	if p.wroteAny && !p.lastNewline {
		io.WriteString(p.out, "\n")
	}
	p.wroteAny, p.lastNewline = false, false
}

// Stats is the one-line summary of a generation's size and speed that
// run, chat and ask print after the answer: prompt tokens (cached ones
// counted apart, since they cost nothing) and output tokens, each with
// its time and rate, then why it ended.
func (r *Result) Stats() string {
	return fmt.Sprintf("prompt %s (%d cached) in %s, %.1f tok/s · output %s in %s, %.1f tok/s · %s",
		plural.Count(r.PromptTokens, "token"), r.CachedTokens, r.PrefillTime.Round(time.Millisecond), r.PrefillTokensPerSecond(),
		plural.Count(r.CompletionTokens, "token"), r.DecodeTime.Round(time.Millisecond), r.DecodeTokensPerSecond(), r.FinishReason)
}
