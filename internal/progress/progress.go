// Package progress makes progress output readable when stderr is not a
// terminal. Progress bars and status lines redraw themselves with '\r';
// in a log file or a CI log those redraws become one endless line. Writer
// turns them into whole lines, at most one per interval, and keeps every
// line that a terminal would have kept. ByteBar is the byte bar the
// commands that write large files share.
package progress

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"sync"
	"time"
)

// Interval is how often a non-terminal Writer prints a redrawn line.
const Interval = 5 * time.Second

// ForStderr returns os.Stderr itself when it is a terminal, and otherwise
// a Writer over it that prints redrawn lines every Interval.
func ForStderr() io.Writer {
	return For(os.Stderr, Interval)
}

// For returns w when it is a terminal and a Writer over it otherwise.
func For(w io.Writer, every time.Duration) io.Writer {
	if IsTerminal(w) {
		return w
	}
	return NewWriter(w, every)
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Writer rewrites '\r' redraws as lines. Text ended by '\n' is printed as
// it is (a terminal keeps it); text ended by '\r' or still open after a
// Write is a redraw: the newest one is printed when every has passed since
// the last printed line, and the pending one is printed before the next
// kept line and by Flush, so the final state of a bar is never lost.
// Terminal escape sequences and blank lines are dropped. It is safe for
// concurrent use.
type Writer struct {
	mu          sync.Mutex
	w           io.Writer
	every       time.Duration
	now         func() time.Time
	cur         []byte // the text since the last '\r' or '\n'
	pending     string // the newest redraw not yet printed
	lastPrinted string
	lastTime    time.Time
}

// NewWriter returns a Writer that prints to w.
func NewWriter(w io.Writer, every time.Duration) *Writer {
	return &Writer{w: w, every: every, now: time.Now}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

func (p *Writer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			p.cur = append(p.cur, b...)
			break
		}
		p.cur = append(p.cur, b[:i]...)
		if b[i] == '\n' {
			if err := p.keep(); err != nil {
				return 0, err
			}
		} else {
			p.redraw()
		}
		b = b[i+1:]
	}
	// An open line is the bar as it stands now.
	if line := clean(p.cur); line != "" {
		p.pending = line
	}
	if p.pending != "" && p.now().Sub(p.lastTime) >= p.every {
		if err := p.print(p.pending); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// redraw handles '\r': the current text is about to be overwritten.
func (p *Writer) redraw() {
	if line := clean(p.cur); line != "" {
		p.pending = line
	}
	p.cur = p.cur[:0]
}

// keep handles '\n': the current text (or, after a bar cleared itself,
// the last redraw) stays on screen.
func (p *Writer) keep() error {
	line := clean(p.cur)
	p.cur = p.cur[:0]
	if line == "" {
		if p.pending == "" {
			// A blank line on a terminal ends a status line or
			// separates it from what follows; a log needs neither.
			return nil
		}
		line = p.pending
	}
	return p.print(line)
}

func (p *Writer) print(line string) error {
	p.pending = ""
	if line == p.lastPrinted {
		return nil
	}
	p.lastPrinted, p.lastTime = line, p.now()
	_, err := io.WriteString(p.w, line+"\n")
	return err
}

// Flush prints the last redraw if it was not printed yet.
func (p *Writer) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redraw()
	if p.pending != "" {
		return p.print(p.pending)
	}
	return nil
}

// Flush flushes w when it is a *Writer, so callers need not know which
// For returned.
func Flush(w io.Writer) error {
	if p, ok := w.(*Writer); ok {
		return p.Flush()
	}
	return nil
}

func clean(b []byte) string {
	s := ansi.ReplaceAllString(string(b), "")
	return string(bytes.TrimRight([]byte(s), " \t"))
}
