// Package lineedit reads the lines a person types at a prompt: with line
// editing and a persistent history on a terminal (github.com/peterh/liner),
// and as plain lines, without a prompt or escape codes, from a pipe or a
// file.
//
// It knows nothing of what the lines mean; `ragtune chat` interprets them.
package lineedit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/peterh/liner"
)

// ErrInterrupt is returned by ReadLine when the user pressed Ctrl-C at the
// prompt: the line typed so far is discarded.
var ErrInterrupt = errors.New("interrupted")

// Reader reads one line per call. ReadLine returns io.EOF at the end of
// the input (Ctrl-D on a terminal).
type Reader interface {
	ReadLine(prompt string) (string, error)
	Close() error
}

// maxLine bounds one line from a pipe: a pasted document is one long line.
const maxLine = 1 << 20

// New returns a line editor when in and out are both terminals, and a plain
// line reader otherwise. The plain reader shows the prompt on promptOut
// only when in is a terminal (stdout redirected to a file), so piped
// sessions print nothing but the replies. historyPath ("" for none) is
// read at the start and rewritten after every line on a terminal.
func New(in io.Reader, out, promptOut io.Writer, historyPath string) Reader {
	if IsTerminal(in) && IsTerminal(out) && in == io.Reader(os.Stdin) && out == io.Writer(os.Stdout) {
		return newTerminal(historyPath)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	p := &plain{sc: sc}
	if IsTerminal(in) {
		p.promptOut = promptOut
	}
	return p
}

// IsTerminal reports whether s is a character device (a terminal).
func IsTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// HistoryPath is where chat history lives: the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux), or "" when there is none.
func HistoryPath(name string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "ragtune", name)
}

type plain struct {
	sc        *bufio.Scanner
	promptOut io.Writer
}

func (p *plain) ReadLine(prompt string) (string, error) {
	if p.promptOut != nil {
		fmt.Fprint(p.promptOut, prompt)
	}
	if !p.sc.Scan() {
		if p.promptOut != nil {
			fmt.Fprintln(p.promptOut)
		}
		if err := p.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return "", fmt.Errorf("read input: a line is longer than %d MiB", maxLine>>20)
			}
			return "", fmt.Errorf("read input: %w", err)
		}
		return "", io.EOF
	}
	return p.sc.Text(), nil
}

func (p *plain) Close() error { return nil }

type terminal struct {
	ln          *liner.State
	historyPath string
	historyErr  error // reported once, then history is off
}

func newTerminal(historyPath string) *terminal {
	t := &terminal{ln: liner.NewLiner(), historyPath: historyPath}
	t.ln.SetCtrlCAborts(true)
	if historyPath != "" {
		if f, err := os.Open(historyPath); err == nil {
			t.ln.ReadHistory(f)
			f.Close()
		}
	}
	return t
}

func (t *terminal) ReadLine(prompt string) (string, error) {
	line, err := t.ln.Prompt(prompt)
	switch {
	case errors.Is(err, liner.ErrPromptAborted):
		return "", ErrInterrupt
	case err != nil:
		return "", err
	}
	if line != "" {
		t.ln.AppendHistory(line)
		t.saveHistory()
	}
	return line, nil
}

// saveHistory rewrites the history file after each line, so a killed
// session keeps what was typed. A failure turns history off with one
// warning instead of one per line.
func (t *terminal) saveHistory() {
	if t.historyPath == "" || t.historyErr != nil {
		return
	}
	err := os.MkdirAll(filepath.Dir(t.historyPath), 0o700)
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(t.historyPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	}
	if err == nil {
		_, err = t.ln.WriteHistory(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.historyErr = err
		fmt.Fprintf(os.Stderr, "warning: chat history not saved (%v); the session goes on without it\n", err)
	}
}

// Close restores the terminal's mode.
func (t *terminal) Close() error { return t.ln.Close() }
