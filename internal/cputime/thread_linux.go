package cputime

import (
	"time"

	"golang.org/x/sys/unix"
)

// Thread is the calling OS thread's CPU time (CLOCK_THREAD_CPUTIME_ID);
// callers lock the goroutine to its thread around what they time. A
// kernel's speed by thread CPU time is immune to the other threads and
// processes sharing the cores.
func Thread() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
