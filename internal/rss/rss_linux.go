//go:build linux

package rss

import (
	"bytes"
	"os"
	"strconv"
)

// Method says how Peak measures, for reports that print it.
const Method = "VmHWM from /proc/self/status, reset through /proc/self/clear_refs before each model"

// ResetPeak sets the kernel's resident high-water mark back to the current
// RSS (writing 5 to clear_refs, Linux 4.0+), so the next Peak reads the
// peak of what ran since. Failure leaves the process-wide peak.
func ResetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// Peak is VmHWM in bytes (0 when unreadable).
func Peak() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := bytes.Fields(line); len(f) >= 2 && string(f[0]) == "VmHWM:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
