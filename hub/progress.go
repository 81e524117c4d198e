package hub

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// fileBar is one file's progress bar; a nil *fileBar (no Progress writer)
// does nothing.
type fileBar struct {
	bar *progressbar.ProgressBar
}

func newBar(w io.Writer, f File) *fileBar {
	if w == nil {
		return nil
	}
	size := f.Size
	if size < 0 {
		size = -1 // unknown: a spinner
	}
	return &fileBar{bar: progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(f.Path),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (b *fileBar) set(n int64) {
	if b != nil {
		b.bar.Set64(n)
	}
}

func (b *fileBar) reader(r io.Reader) io.Reader {
	if b == nil {
		return r
	}
	pr := progressbar.NewReader(r, b.bar)
	return &pr
}

func (b *fileBar) finish() {
	if b != nil {
		b.bar.Finish()
	}
}
