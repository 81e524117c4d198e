//go:build unix

package tokenizer

import (
	"syscall"
	"time"
)

// cpuTime is this process's user+system CPU time. Benchmarks report
// throughput per CPU second too, which stays meaningful on a machine
// shared with other jobs, where wall time is not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
