package eval

import (
	"context"
	"sync"
	"time"

	"ragtune/llm"
)

// prefetched holds generations started ahead of the loop that consumes
// them: a local engine decodes its parallel generations in one forward
// pass per step, so submitting Model.Parallel of them at once multiplies
// throughput, while the loop still takes each answer in item order (its
// scores, progress and first error stay as in a sequential run).
type prefetched struct {
	mu      sync.Mutex
	pending map[string][]*future // by prompt, in submission order
}

type future struct {
	done chan struct{}
	res  *llm.Result
	d    time.Duration
	err  error
}

// prefetch starts generating prompts, up to m.Parallel at a time, and
// returns g with the results attached (generate takes them from there, in
// order) and a stop function to call when the loop ends, which cancels
// what is still running. With m.Parallel <= 1 it does nothing.
func (g GenOptions) prefetch(ctx context.Context, m *Model, prompts []string) (GenOptions, func()) {
	if m.Parallel <= 1 || len(prompts) < 2 {
		return g, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetched{pending: map[string][]*future{}}
	futs := make([]*future, len(prompts))
	for i, pr := range prompts {
		futs[i] = &future{done: make(chan struct{})}
		p.pending[pr] = append(p.pending[pr], futs[i])
	}
	base := g
	base.pre = nil
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(m.Parallel, len(prompts)) {
		wg.Go(func() {
			for i := range next {
				f := futs[i]
				f.res, f.d, f.err = base.run(ctx, m, prompts[i])
				close(f.done)
			}
		})
	}
	go func() {
		defer close(next)
		for i := range prompts {
			select {
			case next <- i:
			case <-ctx.Done():
				for _, f := range futs[i:] {
					f.err = ctx.Err()
					close(f.done)
				}
				return
			}
		}
	}()
	g.pre = p
	return g, func() { cancel(); wg.Wait() }
}

// take returns the next prefetched generation of prompt, if any.
func (p *prefetched) take(prompt string) *future {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.pending[prompt]
	if len(q) == 0 {
		return nil
	}
	p.pending[prompt] = q[1:]
	return q[0]
}

// questions lists the items' questions, in order.
func questions(items []Item) []string {
	qs := make([]string, len(items))
	for i, it := range items {
		qs[i] = it.Question
	}
	return qs
}
