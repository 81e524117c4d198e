package server

import (
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// TestMetricsBatching: concurrent generations on the local engine show up
// in /metrics as forward steps (batch size histogram, tokens run) and as
// admission waits, one per generation.
func TestMetricsBatching(t *testing.T) {
	_, ts := testServer(t, Config{Parallel: 4, MaxQueue: 4})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if st, b := do(t, "POST", ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hello"}],"max_tokens":8}`); st != 200 {
				t.Errorf("%d %s", st, b)
			}
		})
	}
	wg.Wait()
	st, b := do(t, "GET", ts.URL+"/metrics", "")
	if st != 200 {
		t.Fatalf("%d", st)
	}
	text := string(b)
	num := func(re string) float64 {
		m := regexp.MustCompile(`(?m)^` + re + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("metrics lack %s:\n%s", re, text)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if n := num(`ragtune_queue_wait_seconds_count`); n != 6 {
		t.Errorf("queue waits observed: %g, want 6", n)
	}
	steps, inf := num(`ragtune_batch_sequences_count`), num(`ragtune_batch_sequences_bucket\{le="\+Inf"\}`)
	seqs, tokens := num(`ragtune_batch_sequences_sum`), num(`ragtune_batch_tokens_total`)
	// Six generations of up to 8 tokens each, with their prompts: at least
	// one step each, sequences at least steps, tokens at least sequences.
	if steps < 6 || inf != steps || seqs < steps || tokens < seqs || num(`ragtune_batch_sequences_bucket\{le="4"\}`) != steps {
		t.Errorf("batch metrics: %g steps (+Inf bucket %g), %g sequences, %g tokens; no step may hold more than --parallel 4", steps, inf, seqs, tokens)
	}
}
