package rss

import (
	"runtime"
	"testing"
)

var sink []byte

// TestPeakSeesAllocation: touching 64 MiB raises the high-water mark by at
// least most of it (Linux only; elsewhere Peak is 0 by design).
func TestPeakSeesAllocation(t *testing.T) {
	if runtime.GOOS != "linux" {
		if Peak() != 0 {
			t.Errorf("Peak = %d off Linux, want 0", Peak())
		}
		return
	}
	ResetPeak()
	before := Peak()
	if before <= 0 {
		t.Fatalf("Peak = %d, want > 0", before)
	}
	sink = make([]byte, 64<<20)
	for i := 0; i < len(sink); i += 4096 {
		sink[i] = 1
	}
	if after := Peak(); after-before < 48<<20 {
		t.Errorf("peak rose by %d bytes after touching 64 MiB", after-before)
	}
	sink = nil
}
