package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many workers ParallelFor uses (at least 1).
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	threads.Store(int32(n))
}

// Threads returns the worker count ParallelFor uses.
func Threads() int { return int(threads.Load()) }

// ParallelFor splits [0, n) into contiguous ranges and runs fn on them
// concurrently, returning when all are done. Small n runs inline.
func ParallelFor(n int, fn func(lo, hi int)) {
	nt := Threads()
	if nt > n {
		nt = n
	}
	if nt <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + nt - 1) / nt
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
