package server

import (
	"context"
	"errors"
	"sync"
)

// errQueueFull means the request was refused at admission (429).
var errQueueFull = errors.New("server busy: generation queue is full")

// scheduler admits generations first come, first served: at most running
// hold an engine slot at once, at most maxQueue wait behind them, and the
// next one is refused at once rather than left to time out. The engine
// (llm.Local) has its own slot pool; keeping the server's admission at the
// same width means a request that got in starts decoding at once, and the
// order of waiting requests is the server's, strictly FIFO, rather than
// whichever goroutine the runtime wakes first.
type scheduler struct {
	running  int
	maxQueue int

	mu      sync.Mutex
	active  int
	waiters []chan struct{} // FIFO
}

func newScheduler(running, maxQueue int) *scheduler {
	return &scheduler{running: max(running, 1), maxQueue: max(maxQueue, 0)}
}

// acquire waits for a slot. It fails with errQueueFull when the queue is
// full, or with ctx's error when the client leaves while waiting.
func (s *scheduler) acquire(ctx context.Context) (release func(), err error) {
	s.mu.Lock()
	if s.active < s.running && len(s.waiters) == 0 {
		s.active++
		s.mu.Unlock()
		return s.release, nil
	}
	if len(s.waiters) >= s.maxQueue {
		s.mu.Unlock()
		return nil, errQueueFull
	}
	ch := make(chan struct{})
	s.waiters = append(s.waiters, ch)
	s.mu.Unlock()

	select {
	case <-ch:
		return s.release, nil
	case <-ctx.Done():
		s.mu.Lock()
		for i, w := range s.waiters {
			if w == ch {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				s.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		s.mu.Unlock()
		// The slot was handed over just as ctx ended: pass it on.
		s.release()
		return nil, ctx.Err()
	}
}

// release frees a slot, handing it straight to the oldest waiter.
func (s *scheduler) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiters) > 0 {
		ch := s.waiters[0]
		s.waiters = s.waiters[1:]
		close(ch) // active stays: the slot changes hands
		return
	}
	s.active--
}

// depth reports generations running and waiting.
func (s *scheduler) depth() (running, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, len(s.waiters)
}
