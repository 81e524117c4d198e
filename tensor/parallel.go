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

type task = Task

type funcTask func(lo, hi int)

func (f funcTask) Run(_, lo, hi int) { f(lo, hi) }

type job struct {
	t      task
	w      int
	lo, hi int
	next   *atomic.Int64 // non-nil: pull chunks of size hi-lo until n (lo) is reached
	n      int
	grain  int
}

// workerPool is a fixed set of goroutines that sleep on a channel between
// ops, so a matmul per token costs two channel hand-offs per worker instead
// of a goroutine spawn. One op runs at a time: a ParallelFor issued while the
// pool is busy (nested, or from another goroutine) runs inline on the caller,
// which keeps nesting deadlock-free.
type workerPool struct {
	mu      sync.Mutex
	workers []chan job
	wg      sync.WaitGroup
	next    atomic.Int64
}

var pool workerPool

func (p *workerPool) grow(n int) {
	for len(p.workers) < n {
		ch := make(chan job)
		p.workers = append(p.workers, ch)
		go func() {
			for j := range ch {
				j.exec()
				p.wg.Done()
			}
		}()
	}
}

func (j *job) exec() {
	if j.next == nil {
		j.t.Run(j.w, j.lo, j.hi)
		return
	}
	for {
		lo := int(j.next.Add(int64(j.grain))) - j.grain
		if lo >= j.n {
			return
		}
		j.t.Run(j.w, lo, min(lo+j.grain, j.n))
	}
}

// ParallelFor splits [0, n) into contiguous ranges and runs fn on them
// concurrently on the worker pool, returning when all are done. Small n,
// one thread, or a busy pool (a nested call) run fn(0, n) inline.
func ParallelFor(n int, fn func(lo, hi int)) {
	parallelStatic(n, funcTask(fn))
}

// parallelStatic gives worker i the i-th of Threads() near-equal ranges.
func parallelStatic(n int, t task) {
	nt := min(Threads(), n)
	if nt <= 1 || !pool.mu.TryLock() {
		if n > 0 {
			t.Run(0, 0, n)
		}
		return
	}
	defer pool.mu.Unlock()
	pool.grow(nt - 1)
	chunk := (n + nt - 1) / nt
	for i := 1; i < nt; i++ {
		lo := i * chunk
		if lo >= n {
			break
		}
		pool.wg.Add(1)
		pool.workers[i-1] <- job{t: t, w: i, lo: lo, hi: min(lo+chunk, n)}
	}
	t.Run(0, 0, min(chunk, n))
	pool.wg.Wait()
}

// parallelDynamic hands out chunks of grain items from a shared counter, so
// a worker slowed by another process on the same core does not hold up the
// op. Worker indexes stay below Threads().
// nt bounds the worker count (pass Threads() read once, so per-worker
// scratch sized from it stays valid).
func parallelDynamic(nt, n, grain int, t task) {
	if grain < 1 {
		grain = 1
	}
	nt = min(nt, (n+grain-1)/grain)
	if nt <= 1 || !pool.mu.TryLock() {
		if n > 0 {
			t.Run(0, 0, n)
		}
		return
	}
	defer pool.mu.Unlock()
	pool.grow(nt - 1)
	pool.next.Store(0)
	for i := 1; i < nt; i++ {
		pool.wg.Add(1)
		pool.workers[i-1] <- job{t: t, w: i, next: &pool.next, n: n, grain: grain}
	}
	j := job{t: t, w: 0, next: &pool.next, n: n, grain: grain}
	j.exec()
	pool.wg.Wait()
}

// Task is a unit of parallel work for Parallel: Run(w, lo, hi) handles
// items [lo, hi) on worker w (0 <= w < the nt passed to Parallel), so a
// kernel can index per-worker scratch without locking.
type Task interface {
	Run(w, lo, hi int)
}

// Parallel runs t over [0, n) on at most nt workers of the pool, handing
// out chunks of grain items as workers free up. Unlike ParallelFor it
// allocates nothing when t is a pointer (ParallelFor's closure escapes).
func Parallel(nt, n, grain int, t Task) {
	parallelDynamic(nt, n, grain, t)
}
