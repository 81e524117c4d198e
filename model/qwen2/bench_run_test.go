package qwen2

import (
	"math"
	"strings"
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

// TestPrefillTogether: prompts of several lengths prefilled through shared
// steps smaller than some of them (so a prompt spans steps and a step holds
// parts of several) leave each State as running its prompt alone does:
// same position, same greedy next token, and the next token's logits bit
// for bit (int8 tile kernels quantize activations per token).
func TestPrefillTogether(t *testing.T) {
	m := quantModel(t, 7)
	V := m.VocabSize()
	prompts := [][]int{testTokens(5, V, 31), testTokens(19, V, 32), testTokens(1, V, 33), testTokens(8, V, 34)}
	for _, step := range []int{1, 6, 8, 64} {
		states := make([]*State, len(prompts))
		for i := range states {
			states[i] = m.NewStateKV(32, tensor.KVF16)
		}
		next, err := m.prefillTogether(states, prompts, step)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for i, p := range prompts {
			alone := m.NewStateKV(32, tensor.KVF16)
			lg, err := alone.Forward(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := bestToken(lg); len(next[i]) != 1 || next[i][0] != want || states[i].Pos() != len(p) {
				t.Fatalf("step %d, sequence %d: next %v at position %d, want [%d] at %d", step, i, next[i], states[i].Pos(), want, len(p))
			}
			want, err := alone.Forward(next[i])
			if err != nil {
				t.Fatal(err)
			}
			want = append([]float32(nil), want...)
			got, err := states[i].Forward(next[i])
			if err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if got[j] != want[j] {
					t.Fatalf("step %d, sequence %d: logit %d after the prefill %g, alone %g", step, i, j, got[j], want[j])
				}
			}
		}
	}
	// A prompt beyond a state's context fails, naming the sequence.
	states := []*State{m.NewState(32), m.NewState(4)}
	if _, err := m.prefillTogether(states, prompts[:2], 8); err == nil || !strings.Contains(err.Error(), "sequence 2") {
		t.Errorf("a prompt beyond the context: error %v, want one naming sequence 2", err)
	}
}
