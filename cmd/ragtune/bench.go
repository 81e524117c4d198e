package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"ragtune/internal/bytesize"
	"ragtune/internal/cli"
	"ragtune/internal/rss"
	"ragtune/llm"
	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tensor"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure prefill and decode speed and peak memory of a model",
		run:     runBench,
	})
}

const benchDescription = `
Loads a model (HF directory or GGUF file; Q8_0/Q4_0 weights run in place),
evaluates a prompt of --prompt random tokens in one Forward call (prefill),
then generates --gen tokens greedily one at a time (decode), and reports
tokens per second for each and the process's peak resident memory
(VmHWM). The token ids are drawn from a fixed seed, so runs are comparable;
speed does not depend on which tokens they are. Compare against llama.cpp
with the same file, prompt and generation lengths and thread count.
--kv-type picks the KV cache's element type (f16 halves its memory; the
memory one token of context takes is printed): decode after a long
--prompt measures attention over a cache that deep.

--batch N decodes N sequences together, as 'ragtune serve --parallel N'
does for N clients: each prefills its own --prompt random tokens, then
every step runs the next token of all N in one forward pass (the weights
are read once per step for all of them). Decode tokens/s is then the
aggregate over the N sequences; the per-sequence rate is printed beside
it (compare llama-batched-bench -npp P -ntg G -npl N).

Examples:
  ragtune bench --model r1-1.5b-q8_0.gguf --threads 2
  ragtune bench --model ./r1-1.5b --prompt 512 --gen 64 --json
  ragtune bench --model r1-1.5b-q4_0.gguf --batch 8 --gen 32 --json`

// benchResult is one bench run, as --json prints it.
type benchResult struct {
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

func runBench(args []string) error {
	fs := newFlagSet("bench", "--model DIR|FILE.gguf [--threads N] [--prompt 128] [--gen 32] [--batch 1] [--json]", benchDescription)
	path := fs.String("model", "", "model `DIR` or .gguf file")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "`N` worker threads for the kernels")
	prompt := fs.Int("prompt", 128, "`N` prompt tokens evaluated in the prefill (up to the model's context; decode then runs at depth N)")
	gen := fs.Int("gen", 32, "`N` tokens generated one by one after the prompt")
	batch := fs.Int("batch", 1, "`N` sequences decoding together (one forward pass per step for all)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	profile := fs.String("cpuprofile", "", "write a Go CPU profile of the prefill and decode to `FILE` (go tool pprof)")
	kvFlag := fs.String("kv-type", llm.DefaultKVType.String(), "KV cache element `TYPE`: "+tensor.KVTypes)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kvType, err := tensor.ParseKVType(*kvFlag)
	if err != nil {
		return usageErrorf("--kv-type: %v", err)
	}
	if *path == "" {
		return usageErrorf("--model is required (see 'ragtune bench --help')")
	}
	if *threads < 1 || *prompt < 1 || *gen < 0 || *batch < 1 {
		return usageErrorf("--threads, --prompt and --batch must be at least 1 and --gen at least 0")
	}
	if err := cli.ModelPath(*path); err != nil {
		return err
	}
	res, err := bench(*path, *threads, *prompt, *gen, *batch, kvType, *profile)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Printf("model     %s (%s on disk)\n", res.Model, bytesize.Format(res.FileSizeBytes))
	fmt.Printf("kernels   %s, %d threads, loaded in %.2fs\n", res.Kernels, res.Threads, res.LoadSeconds)
	switch {
	case res.Batch > 1:
		fmt.Printf("prefill   %d × %d tokens: %.2f tokens/s\n", res.Batch, res.PromptTokens, res.PrefillTokS)
		if res.GenTokens > 0 {
			fmt.Printf("decode    %d × %d tokens: %.2f tokens/s in all, %.2f per sequence\n", res.Batch, res.GenTokens, res.DecodeTokS, res.DecodeSeqTokS)
		}
	default:
		fmt.Printf("prefill   %d tokens: %.2f tokens/s\n", res.PromptTokens, res.PrefillTokS)
		if res.GenTokens > 0 {
			fmt.Printf("decode    %d tokens: %.2f tokens/s\n", res.GenTokens, res.DecodeTokS)
		}
	}
	fmt.Printf("KV cache  %s, %s per token, %s held\n", res.KVType, bytesize.Format(int64(res.KVBytesPerTok)), bytesize.Format(res.KVCacheBytes))
	if res.PeakRSSBytes > 0 {
		fmt.Printf("peak RSS  %s (%.2f× the file)\n", bytesize.Format(res.PeakRSSBytes), float64(res.PeakRSSBytes)/float64(max(1, res.FileSizeBytes)))
	}
	return nil
}

func bench(path string, threads, prompt, gen, batch int, kvType tensor.KVType, profile string) (*benchResult, error) {
	saved := tensor.Threads()
	tensor.SetThreads(threads)
	defer tensor.SetThreads(saved)
	start := time.Now()
	m, err := qwen2.Load(path, qwen2.WithMatrixLoader(quant.Loader(qwen2.DefaultMatrix)))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	res := &benchResult{
		Model: path, Kernels: tensor.KernelName() + "+" + quant.KernelName(), Threads: threads,
		LoadSeconds: time.Since(start).Seconds(), PromptTokens: prompt, GenTokens: gen, Batch: batch,
		FileSizeBytes: bytesize.OfPath(path),
	}
	if prompt+gen > m.MaxContext() {
		return nil, usageErrorf("--prompt + --gen = %d exceeds the model's context of %d tokens", prompt+gen, m.MaxContext())
	}
	res.KVType, res.KVBytesPerTok = kvType.String(), m.KVBytesPerToken(kvType)
	r := rand.New(rand.NewPCG(1, 2))
	toks := make([]int, prompt)
	for i := range toks {
		toks[i] = r.IntN(m.VocabSize())
	}
	if batch > 1 {
		return benchBatch(m, res, r, toks, kvType, profile)
	}
	st := m.NewStateKV(prompt+gen, kvType)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, fmt.Errorf("bench --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("bench --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	logits, err := st.Forward(toks)
	if err != nil {
		return nil, fmt.Errorf("bench prefill: %w", err)
	}
	res.PrefillTokS = float64(prompt) / time.Since(t0).Seconds()
	next := []int{0}
	t0 = time.Now()
	for i := 0; i < gen; i++ {
		next[0] = argmax(logits)
		if logits, err = st.Forward(next); err != nil {
			return nil, fmt.Errorf("bench decode: %w", err)
		}
	}
	if gen > 0 {
		res.DecodeTokS = float64(gen) / time.Since(t0).Seconds()
		res.DecodeSeqTokS = res.DecodeTokS
	}
	res.PeakRSSBytes = rss.Peak()
	res.KVCacheBytes = st.KVCacheBytes()
	return res, nil
}

// benchBatch is bench's --batch N > 1: N sequences prefill their own
// prompts (toks for the first, fresh random ones for the others) one after
// the other, then decode greedily together, one Batch step per token.
func benchBatch(m *qwen2.Model, res *benchResult, r *rand.Rand, toks []int, kvType tensor.KVType, profile string) (*benchResult, error) {
	n, prompt, gen := res.Batch, res.PromptTokens, res.GenTokens
	states := make([]*qwen2.State, n)
	prompts := make([][]int, n)
	for i := range states {
		states[i] = m.NewStateKV(prompt+gen, kvType)
		prompts[i] = toks
		if i > 0 {
			prompts[i] = make([]int, prompt)
			for j := range prompts[i] {
				prompts[i][j] = r.IntN(m.VocabSize())
			}
		}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return nil, fmt.Errorf("bench --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("bench --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	next := make([][]int, n)
	t0 := time.Now()
	for i, st := range states {
		logits, err := st.Forward(prompts[i])
		if err != nil {
			return nil, fmt.Errorf("bench prefill of sequence %d: %w", i+1, err)
		}
		next[i] = []int{argmax(logits)}
	}
	res.PrefillTokS = float64(n*prompt) / time.Since(t0).Seconds()
	b := m.NewBatch(n, n)
	t0 = time.Now()
	for range gen {
		for i, st := range states {
			if _, err := b.Add(st, next[i], true); err != nil {
				return nil, fmt.Errorf("bench decode: %w", err)
			}
		}
		b.Run()
		for i := range states {
			next[i][0] = argmax(b.Logits(i))
		}
	}
	if gen > 0 {
		res.DecodeTokS = float64(n*gen) / time.Since(t0).Seconds()
		res.DecodeSeqTokS = res.DecodeTokS / float64(n)
	}
	res.PeakRSSBytes = rss.Peak()
	for _, st := range states {
		res.KVCacheBytes += st.KVCacheBytes()
	}
	return res, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
