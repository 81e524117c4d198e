package cputime

import (
	"runtime"
	"testing"
)

// TestClocksAdvance: both clocks move forward while this thread spins
// (on platforms that have them).
func TestClocksAdvance(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0 := Process(), Thread()
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i ^ x
	}
	p1, t1 := Process(), Thread()
	if p0 != 0 && p1 <= p0 {
		t.Errorf("process CPU time did not advance: %v → %v (%d)", p0, p1, x)
	}
	if t0 != 0 && t1 <= t0 {
		t.Errorf("thread CPU time did not advance: %v → %v", t0, t1)
	}
}
