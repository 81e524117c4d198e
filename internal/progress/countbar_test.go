package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCountBar(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, time.Hour)
	bar := CountBar(w, 40, "ingesting")
	bar.Set(10)
	bar.Add64(30) // completes: the bar ends its line
	Flush(w)
	got := out.String()
	if !strings.Contains(got, "ingesting") || !strings.Contains(got, "(40/40") || !strings.HasSuffix(got, "\n") {
		t.Errorf("bar output %q: want the label, the count 40/40 and a final newline", got)
	}
	if strings.Contains(got, "\r") {
		t.Errorf("redraws reached a non-terminal: %q", got)
	}
}
