package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// ByteBar returns a progress callback for writing a large file: a byte
// bar labelled what on stderr (ForStderr: periodic lines when stderr is
// not a terminal), drawn only once the total reaches 64 MiB, below which
// writing takes too little time to be worth one.
func ByteBar(what string) func(done, total int64) { return byteBar(ForStderr(), what) }

func byteBar(w io.Writer, what string) func(done, total int64) {
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		if total < 64<<20 {
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
			)
		}
		bar.Set64(done)
		if done >= total {
			Flush(w)
		}
	}
}
