package qwen2

import (
	"math"
	"testing"

	"ragtune/tensor"
)

// TestBench runs Bench on a tiny Q8_0 model alone and in a batch of three:
// the figures are the ones asked for, the aggregate decode rate is the
// per-sequence rate times the batch, and every sequence's KV cache holds
// its prompt and generated tokens. Speed itself is measured in
// benchmarks, not asserted here.
func TestBench(t *testing.T) {
	m := quantModel(t, 5)
	for _, batch := range []int{1, 3} {
		res, err := m.Bench(BenchOptions{Prompt: 20, Gen: 5, Batch: batch, KVType: tensor.KVF16})
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if res.PromptTokens != 20 || res.GenTokens != 5 || res.Batch != batch || res.KVType != "f16" || res.KVBytesPerTok != m.KVBytesPerToken(tensor.KVF16) {
			t.Errorf("batch %d: result %+v does not echo the options", batch, res)
		}
		if res.PrefillTokS <= 0 || res.DecodeTokS <= 0 || math.Abs(res.DecodeTokS-float64(batch)*res.DecodeSeqTokS) > 1e-9*res.DecodeTokS {
			t.Errorf("batch %d: rates prefill %g, decode %g, per sequence %g", batch, res.PrefillTokS, res.DecodeTokS, res.DecodeSeqTokS)
		}
		if res.KVCacheBytes < int64(batch*25*res.KVBytesPerTok) {
			t.Errorf("batch %d: KV cache %d bytes, want at least %d", batch, res.KVCacheBytes, batch*25*res.KVBytesPerTok)
		}
	}
	res, err := m.Bench(BenchOptions{Prompt: 4, KVType: tensor.KVF32})
	if err != nil {
		t.Fatal(err)
	}
	if res.DecodeTokS != 0 || res.DecodeSeqTokS != 0 || res.Batch != 1 {
		t.Errorf("no generated tokens: %+v, want no decode rate and one sequence", res)
	}
	// A prompt longer than the model's context fails, naming the phase.
	if _, err := m.Bench(BenchOptions{Prompt: m.MaxContext() + 1, KVType: tensor.KVF16}); err == nil {
		t.Error("a prompt beyond the context was measured")
	}
}
