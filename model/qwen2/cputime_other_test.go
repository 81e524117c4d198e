//go:build !unix

package qwen2

import "time"

// cpuTime is not measured on this platform; the CPU-second metrics of
// BenchmarkModel read +Inf there.
func cpuTime() time.Duration { return 0 }
