package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestPerplexity(t *testing.T) {
	var p Perplexity
	if !math.IsNaN(p.Value()) {
		t.Errorf("empty perplexity = %v, want NaN", p.Value())
	}
	if err := p.Add(math.Log(0.25), math.Log(0.25)); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "uniform over 4", p.Value(), 4, 1e-12)
	assertClose(t, "bits", p.BitsPerToken(), 2, 1e-12)
	if err := p.Add(0.5); err == nil {
		t.Error("positive log-probability accepted")
	}
	if err := p.Add(math.NaN()); err == nil {
		t.Error("NaN accepted")
	}
	var q Perplexity
	if err := q.Add(math.Inf(-1)); err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(q.Value(), 1) {
		t.Errorf("zero-probability token: perplexity %v, want +Inf", q.Value())
	}
}

func TestAggregatePerplexity(t *testing.T) {
	ln := math.Log
	rep, err := AggregatePerplexity([][]float64{{ln(0.5)}, {ln(0.25), ln(0.25), ln(0.25)}})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "sample 0", rep.PerSample[0], 2, 1e-12)
	assertClose(t, "sample 1", rep.PerSample[1], 4, 1e-12)
	// Token-weighted: exp((ln 2 + 3 ln 4)/4) = 2^(7/4).
	assertClose(t, "corpus", rep.Corpus, math.Pow(2, 1.75), 1e-12)
	assertClose(t, "mean of samples", rep.MeanOfSamples, 3, 1e-12)
	assertClose(t, "median", rep.MedianOfSamples, 3, 1e-12)
	if rep.Tokens != 4 || rep.Samples != 2 {
		t.Errorf("tokens/samples = %d/%d, want 4/2", rep.Tokens, rep.Samples)
	}
	if _, err := AggregatePerplexity([][]float64{{}}); err == nil {
		t.Error("empty sample accepted")
	}
	if _, err := AggregatePerplexity(nil); err == nil {
		t.Error("no samples accepted")
	}
}

func TestLogProbOf(t *testing.T) {
	got, err := LogProbOf([]float32{0, float32(math.Log(3))}, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "log p", got, math.Log(0.75), 1e-7)
	got, err = LogProbOf([]float32{1000, 1000, -1000}, 0)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "large logits", got, math.Log(0.5), 1e-12)
	if _, err := LogProbOf([]float32{1}, 1); err == nil {
		t.Error("target outside vocabulary accepted")
	}
	if _, err := LogProbOf([]float32{float32(math.Inf(1))}, 0); err == nil {
		t.Error("infinite logits accepted")
	}
}

func TestSlidingWindowsHFGuide(t *testing.T) {
	cases := []struct {
		n, max, stride int
		want           []Window
	}{
		{10, 4, 2, []Window{{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}}},
		// stride == window: disjoint chunks; positions 4 and 8 go unscored.
		{10, 4, 4, []Window{{0, 4, 1}, {4, 8, 5}, {8, 10, 9}}},
		{3, 8, 4, []Window{{0, 3, 1}}},
		{1, 8, 4, nil},
	}
	for _, c := range cases {
		got, err := SlidingWindows(c.n, c.max, c.stride)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("SlidingWindows(%d, %d, %d) = %v, want %v", c.n, c.max, c.stride, got, c.want)
		}
	}
	for _, bad := range [][3]int{{10, 1, 1}, {10, 4, 0}, {10, 4, 5}} {
		if _, err := SlidingWindows(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("SlidingWindows%v accepted", bad)
		}
	}
}

// Property: with stride < window, every position after the first is scored
// exactly once and, after the first window, with ≥ window−stride tokens of
// context.
func TestSlidingWindowsCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 500; trial++ {
		n := 2 + rng.IntN(300)
		maxLen := 2 + rng.IntN(64)
		stride := 1 + rng.IntN(maxLen-1)
		ws, err := SlidingWindows(n, maxLen, stride)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, n)
		for k, w := range ws {
			if w.End-w.Begin > maxLen || w.ScoreFrom <= w.Begin {
				t.Fatalf("n=%d max=%d stride=%d: bad window %v", n, maxLen, stride, w)
			}
			for p := w.ScoreFrom; p < w.End; p++ {
				seen[p]++
				if k > 0 && p-w.Begin < maxLen-stride {
					t.Fatalf("n=%d max=%d stride=%d: position %d has %d context tokens", n, maxLen, stride, p, p-w.Begin)
				}
			}
		}
		for p := 1; p < n; p++ {
			if seen[p] != 1 {
				t.Fatalf("n=%d max=%d stride=%d: position %d scored %d times", n, maxLen, stride, p, seen[p])
			}
		}
	}
}
