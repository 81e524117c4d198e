package llm

import "testing"

func TestAutoParallel(t *testing.T) {
	const GiB = 1 << 30
	for _, c := range []struct {
		cores         int
		mem, weights  int64
		ctx, kvPerTok int
		want          int
	}{
		{2, 0, 0, 0, 0, 8}, // memory unknown: 4 per core
		{1, 0, 0, 0, 0, 4},
		{16, 0, 0, 0, 0, 16},                  // capped
		{2, 64 * GiB, GiB, 4096, 28 << 10, 8}, // 1.5B, f16: 112 MiB per sequence fits
		// 1 GiB free after 1 GiB of weights: half of it holds 4 sequences of 112 MiB.
		{2, 2 * GiB, GiB, 4096, 28 << 10, 4},
		{2, GiB, 2 * GiB, 4096, 28 << 10, 1}, // no room at all: still one
	} {
		if got := AutoParallel(c.cores, c.mem, c.weights, c.ctx, c.kvPerTok); got != c.want {
			t.Errorf("AutoParallel(%d cores, %d free, %d weights, ctx %d × %d) = %d, want %d", c.cores, c.mem, c.weights, c.ctx, c.kvPerTok, got, c.want)
		}
	}
	dir := tinyModelDir(t)
	if n := DefaultParallel(dir, 0, "f16"); n < 1 || n > 16 {
		t.Errorf("DefaultParallel on the tiny model = %d", n)
	}
	if n := DefaultParallel(dir+"/missing", 0, ""); n < 2 {
		t.Errorf("DefaultParallel without a model = %d, want the CPU bound", n)
	}
}
