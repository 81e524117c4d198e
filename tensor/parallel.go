package tensor

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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

// workerPool is a fixed set of goroutines that wait between ops, so a
// matmul per token costs a hand-off per worker instead of a goroutine
// spawn. One op runs at a time: a ParallelFor issued while the pool is busy
// (nested, or from another goroutine) runs inline on the caller, which
// keeps nesting deadlock-free.
//
// An idle worker first polls for the next op for spinFor, then sleeps on
// its channel. Decode issues a few hundred ops per token, 50-300 µs each,
// back to back; waking a sleeping goroutine costs tens of µs of latency
// each time (a futex wake and a steal), which measured as idle cores
// between ops. Spinning catches the next op within a few ns, and the short
// limit keeps an idle process from burning a core.
type workerPool struct {
	mu      sync.Mutex
	workers []*worker
	// pending counts posted jobs not yet finished; the caller adds
	// sleeping to it when it stops polling and sleeps on done. One word
	// for both lets the worker that finishes the last job learn from its
	// own decrement whether to wake the caller: with a separate flag, a
	// worker that saw zero and then read the flag could read the next
	// op's flag and wake that op's caller before its jobs ran.
	pending atomic.Int64
	done    chan struct{}
	next    atomic.Int64
}

// sleeping is the caller-asleep bit of workerPool.pending.
const sleeping = int64(1) << 40

type worker struct {
	state atomic.Int32
	slot  job // written by post before state becomes wPosted
	ch    chan job
}

// Worker states: post claims a spinning worker (wClaimed), fills its slot
// and publishes it (wPosted); a worker that stops spinning moves to
// wSleeping and then takes its next job from the channel.
const (
	wBusy int32 = iota
	wSpinning
	wClaimed
	wPosted
	wSleeping
)

// spinFor is how long idle workers and a waiting caller poll before they
// sleep; RAGTUNE_SPIN_US overrides it (0 turns polling off, for machines
// shared with other busy processes, where a polling thread takes time
// from the thread it waits for).
var spinFor = spinSetting(os.Getenv("RAGTUNE_SPIN_US"))

func spinSetting(v string) time.Duration {
	if us, err := strconv.Atoi(v); err == nil && us >= 0 {
		return time.Duration(us) * time.Microsecond
	}
	return 50 * time.Microsecond
}

// spinner bounds one polling loop: poll returns false once the loop has
// polled for spinFor, or at once when it finds its thread was descheduled
// (a gap between two checks far longer than the checks themselves): the
// machine then has more runnable threads than cores, and polling on takes
// time from the thread it waits for. Every check also yields the core to
// any other runnable thread. Measured on 2 cores, 1.5B Q4_0 decode:
// +25% tokens/s on an idle machine, -18% next to one busy process
// (RAGTUNE_SPIN_US=0 avoids that).
type spinner struct {
	start, last time.Time
	i           int
}

const preemptedGap = 500 * time.Microsecond

func newSpinner() spinner {
	if spinFor <= 0 {
		return spinner{}
	}
	now := time.Now()
	return spinner{start: now, last: now}
}

func (s *spinner) poll() bool {
	if s.start.IsZero() {
		return false
	}
	s.i++
	if s.i%64 != 0 {
		return true
	}
	osYield()
	now := time.Now()
	if now.Sub(s.last) > preemptedGap {
		return false
	}
	s.last = now
	return now.Sub(s.start) <= spinFor
}

var pool workerPool

func (p *workerPool) grow(n int) {
	if p.done == nil {
		p.done = make(chan struct{}, 1)
	}
	for len(p.workers) < n {
		w := &worker{ch: make(chan job)}
		w.state.Store(wSpinning)
		p.workers = append(p.workers, w)
		go func() {
			for {
				j := w.wait()
				j.exec()
				// Spinning before the count drops: the caller may post the
				// next op as soon as it sees zero, and must find us spinning.
				w.state.Store(wSpinning)
				if p.pending.Add(-1) == sleeping {
					p.done <- struct{}{}
				}
			}
		}()
	}
}

// wait returns the worker's next job, spinning then sleeping.
func (w *worker) wait() job {
	for sp := newSpinner(); ; {
		if w.state.Load() == wPosted {
			return w.take()
		}
		if !sp.poll() {
			break
		}
	}
	if w.state.CompareAndSwap(wSpinning, wSleeping) {
		j := <-w.ch
		w.state.Store(wBusy)
		return j
	}
	for w.state.Load() != wPosted { // claimed: the slot is being filled
	}
	return w.take()
}

func (w *worker) take() job {
	j := w.slot
	w.slot = job{}
	w.state.Store(wBusy)
	return j
}

// post hands j to the worker: through the slot when it is spinning, else
// through its channel (waking it).
func (w *worker) post(j job) {
	if w.state.CompareAndSwap(wSpinning, wClaimed) {
		w.slot = j
		w.state.Store(wPosted)
		return
	}
	w.ch <- j
}

// wait returns when every posted job has finished. The caller polls for
// up to spinFor before sleeping: a sleeping caller is woken onto the
// finishing worker's scheduler queue, behind that worker's own spinning,
// and loses its turn until another thread steals it. Long ops (prefill,
// training) sleep after the short poll, so a busy machine loses no core.
func (p *workerPool) wait() {
	for sp := newSpinner(); ; {
		n := p.pending.Load()
		if n == 0 {
			return
		}
		if sp.poll() {
			continue
		}
		// Sleep only if no job finished since the load; the worker whose
		// decrement leaves exactly the bit is then the last and signals.
		if p.pending.CompareAndSwap(n, n|sleeping) {
			<-p.done
			p.pending.Store(0) // every worker is done: nothing else writes it
			return
		}
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

// ParallelSplit is ParallelFor for a Task: worker i gets the i-th of
// Threads() near-equal ranges, and nothing is allocated when t is a
// pointer, so per-token ops can use it.
func ParallelSplit(n int, t Task) { parallelStatic(n, t) }

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
		pool.pending.Add(1)
		pool.workers[i-1].post(job{t: t, w: i, lo: lo, hi: min(lo+chunk, n)})
	}
	t.Run(0, 0, min(chunk, n))
	pool.wait()
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
		pool.pending.Add(1)
		pool.workers[i-1].post(job{t: t, w: i, next: &pool.next, n: n, grain: grain})
	}
	j := job{t: t, w: 0, next: &pool.next, n: n, grain: grain}
	j.exec()
	pool.wait()
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
