package llm

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// BatchModel is a Model that runs one forward step over several sequences
// (model/qwen2 through its adapter): decode tokens and prompt chunks of
// different sequences stacked into one pass, so the weights are read once
// per step for all of them.
type BatchModel interface {
	Model
	// NewBatcher allocates a step of up to maxTokens tokens from up to
	// maxSeqs of this model's States.
	NewBatcher(maxTokens, maxSeqs int) Batcher
}

// Batcher is one forward step being assembled and run. It is used by one
// goroutine at a time.
type Batcher interface {
	// Add queues tokens of s (at s.Pos()...) and returns the sequence's
	// index in the step; with logits set the step computes its last
	// token's logits.
	Add(s State, tokens []int, logits bool) (int, error)
	// Run runs the queued step and empties the queue.
	Run()
	// Logits is the i-th sequence's result of the last Run: its logits
	// (nil when not asked for) or why it failed.
	Logits(i int) ([]float32, error)
	// Reset empties the queue without running it.
	Reset()
}

// PrefixCopier is a State that can take another State's first n tokens'
// keys and values instead of recomputing them (a prompt prefix shared
// across requests).
type PrefixCopier interface {
	CopyPrefix(src State, n int) error
}

// forwardBatcher serves Models without their own Batcher: each sequence
// of a step runs its own Forward, one after the other. Scheduling,
// chunking and cancellation work the same; only the weights are read once
// per sequence.
type forwardBatcher struct {
	items []forwardItem
	done  int
}

type forwardItem struct {
	s      State
	tokens []int
	logits []float32
	err    error
}

func (b *forwardBatcher) Add(s State, tokens []int, _ bool) (int, error) {
	if b.done > 0 {
		b.items, b.done = b.items[:0], 0
	}
	b.items = append(b.items, forwardItem{s: s, tokens: tokens})
	return len(b.items) - 1, nil
}

func (b *forwardBatcher) Run() {
	for i := range b.items {
		it := &b.items[i]
		it.logits, it.err = it.s.Forward(it.tokens)
	}
	b.done = max(len(b.items), 1)
}

func (b *forwardBatcher) Logits(i int) ([]float32, error) {
	it := b.items[i]
	return it.logits, it.err
}

func (b *forwardBatcher) Reset() { b.items, b.done = b.items[:0], 0 }

// job is one request's forward work handed to the stepper: a prompt to
// prefill (prompt set, toks its uncached tail once started) or one decode
// token. A slot has one job, reused, so decoding allocates nothing.
type job struct {
	ctx    context.Context
	s      *slot
	prompt []int     // the whole prompt on a prefill job, else nil
	toks   []int     // tokens still to run
	logits []float32 // the result: a copy in buf, since the Batcher's is overwritten by the next step
	buf    []float32
	cached int // prompt tokens reused (prefill)
	err    error
	queued time.Time
	ready  chan struct{}
}

// stepper runs the forward steps of every active sequence of a Local: a
// goroutine, alive while any slot is held, collects the jobs queued since
// the last step and runs them as one Batcher step (continuous batching:
// sequences join and leave between steps). Decode tokens go first; prompt
// chunks, l.chunk tokens at a time from where each prompt's uncached part
// starts (the same chunks a request running alone gets), fill the rest of
// the per-step token budget in arrival order, so a long prompt prefills
// over several steps while the others keep decoding. A job whose context
// ended leaves at the next step. All KV caches and slot token lists are
// written by this goroutine only.
type stepper struct {
	l       *Local
	b       Batcher
	budget  int
	maxSeqs int

	mu      sync.Mutex
	queue   []*job
	held    int  // slots held by generations
	running bool // the goroutine is alive
	wake    chan struct{}

	step  []*job // this step's jobs, reused
	chunk []int  // per step job: tokens it runs
	idx   []int  // per step job: its index in the Batcher

	lastStep time.Duration
	stats    BatchStats
}

// BatchStats are a Local engine's forward steps so far.
type BatchStats struct {
	Steps     uint64 // forward steps run
	Sequences uint64 // sequences over all steps (Sequences/Steps is the mean batch size)
	Tokens    uint64 // tokens over all steps
	MaxSeqs   int    // the most sequences one step held
	// BySize[k] is how many steps held k sequences (a histogram of the
	// batch size).
	BySize []uint64
}

func newStepper(l *Local, b Batcher, budget, maxSeqs int) *stepper {
	return &stepper{l: l, b: b, budget: budget, maxSeqs: maxSeqs, wake: make(chan struct{}, 1)}
}

func (st *stepper) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// unhold counts a generation out; a step waiting for it goes ahead.
func (st *stepper) unhold() {
	st.mu.Lock()
	st.held--
	st.mu.Unlock()
	st.signal()
}

// run hands j to the stepper and waits for it to finish.
func (st *stepper) run(j *job) {
	j.err, j.logits = nil, nil
	j.queued = time.Now()
	st.mu.Lock()
	st.queue = append(st.queue, j)
	st.mu.Unlock()
	st.signal()
	<-j.ready
}

func (st *stepper) loop() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		st.mu.Lock()
		n, held := len(st.queue), st.held
		if n == 0 && held == 0 {
			st.running = false
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
		if n == 0 {
			<-st.wake
			continue
		}
		if n < held {
			// The other sequences are sampling their next token or handing
			// the last one to their client: wait a moment for them, so
			// one step serves everyone rather than steps alternating
			// between halves. A client slow to take its tokens only delays
			// the others by the grace period.
			grace := min(max(st.lastStep/8, 100*time.Microsecond), 20*time.Millisecond)
			timer.Reset(grace)
		wait:
			for {
				select {
				case <-st.wake:
					st.mu.Lock()
					n, held = len(st.queue), st.held
					st.mu.Unlock()
					if n >= held {
						break wait
					}
				case <-timer.C:
					break wait
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		t0 := time.Now()
		st.runStep()
		st.lastStep = time.Since(t0)
	}
}

// runStep takes the queued jobs that fit one step, runs it and hands back
// the finished ones.
func (st *stepper) runStep() {
	l := st.l
	st.mu.Lock()
	st.step, st.chunk = st.step[:0], st.chunk[:0]
	var finished []*job // cancelled or failed before running; rare, so allocating is fine
	used := 0
	// Decode tokens and last prompt tokens first, then prompt chunks in
	// arrival order; a chunk that does not fit waits, and so does every
	// prompt behind it, so arrival order holds.
	for pass := 0; pass < 2; pass++ {
		for _, j := range st.queue {
			if j.ctx.Err() != nil || len(st.step) == st.maxSeqs {
				continue
			}
			if j.prompt != nil && j.toks == nil {
				if err := st.start(j); err != nil {
					j.err = err
					continue
				}
			}
			n := min(len(j.toks), l.chunk)
			if (pass == 0) != (n <= 1) || contains2(st.step, j) {
				continue
			}
			if used+n > st.budget {
				if pass == 1 {
					break
				}
				continue
			}
			st.step = append(st.step, j)
			st.chunk = append(st.chunk, n)
			used += n
		}
	}
	// Hand back jobs whose context ended or that failed to start; keep the
	// rest queued.
	keep := st.queue[:0]
	for _, j := range st.queue {
		switch {
		case j.err != nil:
			finished = append(finished, j)
		case j.ctx.Err() != nil && !contains2(st.step, j):
			j.err = j.ctx.Err()
			finished = append(finished, j)
		default:
			keep = append(keep, j)
		}
	}
	clear(st.queue[len(keep):])
	st.queue = keep
	st.mu.Unlock()
	for _, j := range finished {
		j.ready <- struct{}{}
	}
	if len(st.step) == 0 {
		return
	}

	st.b.Reset()
	st.idx = st.idx[:0]
	for i, j := range st.step {
		n := st.chunk[i]
		last := n == len(j.toks)
		k, err := st.b.Add(j.s.state, j.toks[:n], last)
		if err != nil {
			k = -1
			j.err = err
		}
		st.idx = append(st.idx, k)
	}
	st.b.Run()

	st.mu.Lock()
	st.stats.Steps++
	st.stats.Sequences += uint64(len(st.step))
	st.stats.Tokens += uint64(used)
	st.stats.MaxSeqs = max(st.stats.MaxSeqs, len(st.step))
	for len(st.stats.BySize) <= len(st.step) {
		st.stats.BySize = append(st.stats.BySize, 0) // grows to Parallel+1 once
	}
	st.stats.BySize[len(st.step)]++
	for i, j := range st.step {
		n := st.chunk[i]
		if st.idx[i] >= 0 {
			logits, err := st.b.Logits(st.idx[i])
			if err == nil {
				j.s.tokens = append(j.s.tokens, j.toks[:n]...)
				j.toks = j.toks[n:]
				if len(j.toks) == 0 {
					j.buf = append(j.buf[:0], logits...)
					j.logits = j.buf
				}
			} else {
				j.err = err
			}
		}
		if j.err != nil {
			j.err = fmt.Errorf("tokens %d..%d: %w", len(j.s.tokens), len(j.s.tokens)+n, j.err)
			j.s.forget()
		}
		if j.err != nil || len(j.toks) == 0 {
			st.remove(j)
			j.ready <- struct{}{}
		}
	}
	st.mu.Unlock()
}

func contains2(js []*job, j *job) bool {
	for _, x := range js {
		if x == j {
			return true
		}
	}
	return false
}

// remove drops j from the queue (st.mu held).
func (st *stepper) remove(j *job) {
	for i, x := range st.queue {
		if x == j {
			copy(st.queue[i:], st.queue[i+1:])
			st.queue[len(st.queue)-1] = nil
			st.queue = st.queue[:len(st.queue)-1]
			return
		}
	}
}

// start decides how much of a prefill job's prompt is already cached: the
// slot's own tokens, or a longer prefix another slot holds, whose keys and
// values are copied over (any slot's, busy or free: only this goroutine
// writes caches). The last prompt token always runs, since its logits
// start the generation. st.mu is held.
func (st *stepper) start(j *job) error {
	l, s, prompt := st.l, j.s, j.prompt
	if s.state == nil {
		s.state = l.model.NewState(l.ctxSize)
	}
	if s.state.Pos() != len(s.tokens) { // should not happen; never trust a stale cache
		s.forget()
	}
	n := 0
	if l.reuse {
		n = min(commonPrefix(s.tokens, prompt), len(prompt)-1)
		if cp, ok := s.state.(PrefixCopier); ok {
			var src *slot
			for _, o := range l.slots {
				if o == s || o.state == nil {
					continue
				}
				if m := min(commonPrefix(o.tokens, prompt), len(prompt)-1); m > n+copyMin {
					src, n = o, m
				}
			}
			if src != nil {
				if err := cp.CopyPrefix(src.state, n); err != nil {
					// Not worth failing the request over: compute it.
					n = min(commonPrefix(s.tokens, prompt), len(prompt)-1)
				} else {
					s.tokens = append(s.tokens[:0], prompt[:n]...)
				}
			}
		}
	}
	s.state.Truncate(n)
	s.tokens = s.tokens[:n]
	j.cached = n
	j.toks = prompt[n:]
	return nil
}

// copyMin is how many more tokens another slot must share with a prompt
// than the request's own slot before its rows are copied: copying costs a
// pass over every layer's rows, which a few tokens of compute do not pay
// for.
const copyMin = 8

// Stats returns the engine's forward steps so far.
func (l *Local) Stats() BatchStats {
	l.steps.mu.Lock()
	defer l.steps.mu.Unlock()
	st := l.steps.stats
	st.BySize = append([]uint64(nil), st.BySize...)
	return st
}
