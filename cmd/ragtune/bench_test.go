package main

import (
	"path/filepath"
	"testing"

	"ragtune/tensor"
)

func TestBenchTiny(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "tiny")
	if err := runModelInit([]string{"--out", m, "--preset", "tiny"}); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "tiny-q4.gguf")
	if err := runQuantize([]string{"--model", m, "--type", "q4_0", "--out", q}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{m, q} {
		for _, batch := range []int{1, 3} {
			res, err := bench(path, 2, 20, 5, batch, tensor.KVF16, "")
			if err != nil {
				t.Fatalf("bench %s --batch %d: %v", path, batch, err)
			}
			if res.PrefillTokS <= 0 || res.DecodeTokS <= 0 || res.PeakRSSBytes <= 0 || res.FileSizeBytes <= 0 || res.Batch != batch {
				t.Errorf("bench %s --batch %d: implausible result %+v", path, batch, res)
			}
			// The aggregate is the per-sequence rate times the batch.
			if d := res.DecodeTokS - float64(batch)*res.DecodeSeqTokS; d > 1e-9*res.DecodeTokS || d < -1e-9*res.DecodeTokS {
				t.Errorf("bench %s --batch %d: aggregate %g, per sequence %g", path, batch, res.DecodeTokS, res.DecodeSeqTokS)
			}
			// Three 20-token prompts with 5 generated tokens each hold 25
			// tokens of cache per sequence (at least: it grows by doubling).
			if res.KVCacheBytes < int64(batch*25*res.KVBytesPerTok) {
				t.Errorf("bench %s --batch %d: KV cache %d bytes for %d sequences", path, batch, res.KVCacheBytes, batch)
			}
		}
	}
	if err := runBench([]string{"--model", m, "--batch", "0"}); err == nil {
		t.Error("bench accepted --batch 0")
	}
	if err := runBench([]string{"--model", m, "--prompt", "5000"}); err == nil {
		t.Error("bench accepted a prompt longer than the context")
	}
}
