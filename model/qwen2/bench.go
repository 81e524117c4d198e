package qwen2

import (
	"fmt"
	"math/rand/v2"
	"time"

	"ragtune/tensor"
)

// BenchResult is one speed measurement, in the JSON form 'ragtune bench
// --json' prints (a checked interface: keep the keys). Bench fills the
// measured figures; the fields about the load and the process (Model,
// Kernels, Threads, LoadSeconds, PeakRSSBytes, FileSizeBytes) are the
// caller's, who loaded the model.
type BenchResult struct {
	Model         string  `json:"model"`
	Kernels       string  `json:"kernels"`
	Threads       int     `json:"threads"`
	LoadSeconds   float64 `json:"load_seconds"`
	PromptTokens  int     `json:"prompt_tokens"`
	PrefillTokS   float64 `json:"prefill_tokens_per_second"`
	GenTokens     int     `json:"gen_tokens"`
	Batch         int     `json:"batch"`
	DecodeTokS    float64 `json:"decode_tokens_per_second"` // over all Batch sequences
	DecodeSeqTokS float64 `json:"decode_tokens_per_second_per_sequence"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	FileSizeBytes int64   `json:"file_size_bytes"`
	KVType        string  `json:"kv_type"`
	KVBytesPerTok int     `json:"kv_bytes_per_token"`
	KVCacheBytes  int64   `json:"kv_cache_bytes"`
}

// BenchOptions size a Bench run.
type BenchOptions struct {
	Prompt int // prompt tokens per sequence, run in one Forward call
	Gen    int // tokens then generated greedily, one step each
	Batch  int // sequences decoding together (1 or less: one, without a Batch)
	KVType tensor.KVType
}

// Bench measures prefill and decode speed: a prompt of o.Prompt random
// token ids (from a fixed seed, so runs are comparable; speed does not
// depend on which tokens they are) in one Forward call, then o.Gen greedy
// tokens one at a time. With o.Batch N > 1, N sequences prefill their own
// prompts together (Batch steps of several prompts' tokens) and then decode
// together, one Batch step per token for all of them, as a server does for
// N clients: decode speed is then the aggregate, DecodeSeqTokS the rate per
// sequence. The caller checks that Prompt+Gen fit in MaxContext.
func (m *Model) Bench(o BenchOptions) (*BenchResult, error) {
	n := max(1, o.Batch)
	res := &BenchResult{PromptTokens: o.Prompt, GenTokens: o.Gen, Batch: n,
		KVType: o.KVType.String(), KVBytesPerTok: m.KVBytesPerToken(o.KVType)}
	r := rand.New(rand.NewPCG(1, 2))
	states := make([]*State, n)
	prompts := make([][]int, n)
	for i := range states {
		states[i] = m.NewStateKV(o.Prompt+o.Gen, o.KVType)
		// Allocated before the clock starts, as llama.cpp allocates its
		// context: otherwise decode at depth N would time the cache's
		// last doubling (a copy of all N rows) inside its few tokens.
		states[i].Reserve(o.Prompt + o.Gen)
		prompts[i] = make([]int, o.Prompt)
		for j := range prompts[i] {
			prompts[i][j] = r.IntN(m.VocabSize())
		}
	}
	var err error
	if n == 1 {
		err = m.benchOne(res, states[0], prompts[0])
	} else {
		err = m.benchBatch(res, states, prompts)
	}
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		res.KVCacheBytes += st.KVCacheBytes()
	}
	return res, nil
}

// benchOne times one sequence: the prompt in one Forward call, then
// each generated token through State.Forward, as generation runs.
func (m *Model) benchOne(res *BenchResult, st *State, prompt []int) error {
	t0 := time.Now()
	logits, err := st.Forward(prompt)
	if err != nil {
		return fmt.Errorf("bench prefill: %w", err)
	}
	res.PrefillTokS = float64(len(prompt)) / time.Since(t0).Seconds()
	next := []int{0}
	t0 = time.Now()
	for range res.GenTokens {
		next[0] = bestToken(logits)
		if logits, err = st.Forward(next); err != nil {
			return fmt.Errorf("bench decode: %w", err)
		}
	}
	if res.GenTokens > 0 {
		res.DecodeTokS = float64(res.GenTokens) / time.Since(t0).Seconds()
		res.DecodeSeqTokS = res.DecodeTokS
	}
	return nil
}

// benchBatch times N sequences: their prompts prefill together, then all
// decode together, one Batch step per token.
func (m *Model) benchBatch(res *BenchResult, states []*State, prompts [][]int) error {
	n, gen := len(states), res.GenTokens
	t0 := time.Now()
	next, err := m.prefillTogether(states, prompts, benchPrefillSteps*m.chunk)
	if err != nil {
		return fmt.Errorf("bench prefill: %w", err)
	}
	res.PrefillTokS = float64(n*res.PromptTokens) / time.Since(t0).Seconds()
	b := m.NewBatch(n, n)
	t0 = time.Now()
	for range gen {
		for i, st := range states {
			if _, err := b.Add(st, next[i], true); err != nil {
				return fmt.Errorf("bench decode: %w", err)
			}
		}
		b.Run()
		for i := range states {
			next[i][0] = bestToken(b.Logits(i))
		}
	}
	if gen > 0 {
		res.DecodeTokS = float64(n*gen) / time.Since(t0).Seconds()
		res.DecodeSeqTokS = res.DecodeTokS / float64(n)
	}
	return nil
}

// benchPrefillSteps is how many State chunks of prompt tokens one prefill
// step of a batched bench holds: four 128-token prompts share each pass
// over the weights, and the one step's activations take less memory than
// every sequence's own State buffers would.
const benchPrefillSteps = 4

// prefillTogether runs every prompt into its state through Batch steps of
// up to step tokens, filled in order (a prompt that does not fit goes on
// in the next step), and returns each sequence's greedy next token as a
// one-token slice.
func (m *Model) prefillTogether(states []*State, prompts [][]int, step int) ([][]int, error) {
	n := len(states)
	total := 0
	for _, p := range prompts {
		total += len(p)
	}
	b := m.NewBatch(max(1, min(step, total)), n)
	next := make([][]int, n)
	done := make([]int, n) // prompt tokens queued so far, per sequence
	slot := make([]int, n) // index in the step of a sequence whose prompt ends in it, or -1
	for first := 0; first < n; {
		for i := range slot {
			slot[i] = -1
		}
		for i := first; i < n && b.Tokens() < b.MaxTokens(); i++ {
			k := min(len(prompts[i])-done[i], b.MaxTokens()-b.Tokens())
			last := done[i]+k == len(prompts[i])
			j, err := b.Add(states[i], prompts[i][done[i]:done[i]+k], last)
			if err != nil {
				return nil, fmt.Errorf("sequence %d: %w", i+1, err)
			}
			done[i] += k
			if last {
				slot[i] = j
			}
		}
		b.Run()
		for i := first; i < n && slot[i] >= 0; i++ {
			next[i] = []int{bestToken(b.Logits(slot[i]))}
			first = i + 1
		}
	}
	return next, nil
}

// bestToken is greedy decoding's choice: the first of the largest logits.
func bestToken(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
