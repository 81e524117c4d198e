package progress

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRedrawsBecomeLines feeds what the trainer and a progress bar write
// on a terminal and checks a log file gets one line per interval, the
// kept lines, and the final state.
func TestRedrawsBecomeLines(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, 5*time.Second)
	clock := time.Unix(0, 0)
	w.now = func() time.Time { return clock }
	for step := 1; step <= 20; step++ {
		fmt.Fprintf(w, "\rstep %d/20  loss %.1f   ", step, 1/float64(step))
		if step == 10 {
			fmt.Fprintf(w, "\nstep 10: validation loss 0.5\n")
		}
		clock = clock.Add(time.Second)
	}
	fmt.Fprintln(w) // the trainer ends its status line
	// A progress bar: redraws with escape codes, a clearing run of spaces,
	// and a newline on completion.
	for i := 0; i <= 100; i += 10 {
		fmt.Fprintf(w, "\r\x1b[Kquantizing %3d%% |%s|", i, strings.Repeat("█", i/10))
		clock = clock.Add(700 * time.Millisecond)
	}
	fmt.Fprint(w, "\r          \r\n")
	want := strings.Join([]string{
		"step 1/20  loss 1.0",
		"step 6/20  loss 0.2",
		"step 10/20  loss 0.1",
		"step 10: validation loss 0.5",
		"step 15/20  loss 0.1",
		"step 20/20  loss 0.1",
		"quantizing  60% |██████|", // 5 s after the last step line
		"quantizing 100% |██████████|",
		"",
	}, "\n")
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("output still has carriage returns")
	}
}

func TestFlushPrintsLastState(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, time.Hour)
	fmt.Fprint(w, "\rdownloading 10%")
	fmt.Fprint(w, "\rdownloading 55%")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "downloading 10%\ndownloading 55%\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
