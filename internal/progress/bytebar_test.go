package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestByteBar(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, time.Hour)
	small := byteBar(w, "writing")
	small(1<<20, 2<<20)
	small(2<<20, 2<<20)
	if out.Len() != 0 {
		t.Errorf("a 2 MiB write drew a bar: %q", out.String())
	}
	big := byteBar(w, "writing GGUF")
	const total = 128 << 20
	big(0, total)
	big(total/2, total)
	big(total, total) // flushes: the last state is printed as a line
	got := out.String()
	if !strings.Contains(got, "writing GGUF") || !strings.Contains(got, "100%") || !strings.HasSuffix(got, "\n") {
		t.Errorf("bar output %q: want the label, 100%% and a final newline", got)
	}
	if strings.Contains(got, "\r") {
		t.Errorf("redraws reached a non-terminal: %q", got)
	}
}
