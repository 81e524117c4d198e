package main

import (
	"encoding/json"
	"fmt"
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
--prompt measures attention over a cache that deep. The cache for
--prompt + --gen tokens is allocated before timing starts, as llama.cpp
allocates its context (generation grows it as the text does).

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

// bench loads the model with the kernels set to threads and measures it
// (qwen2.Model.Bench), adding what only the process knows: load time,
// kernel sets, file size and peak memory.
func bench(path string, threads, prompt, gen, batch int, kvType tensor.KVType, profile string) (*qwen2.BenchResult, error) {
	saved := tensor.Threads()
	tensor.SetThreads(threads)
	defer tensor.SetThreads(saved)
	start := time.Now()
	m, err := qwen2.Load(path, qwen2.WithMatrixLoader(quant.Loader(qwen2.DefaultMatrix)))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	load := time.Since(start).Seconds()
	if prompt+gen > m.MaxContext() {
		return nil, usageErrorf("--prompt + --gen = %d exceeds the model's context of %d tokens", prompt+gen, m.MaxContext())
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
	res, err := m.Bench(qwen2.BenchOptions{Prompt: prompt, Gen: gen, Batch: batch, KVType: kvType})
	if err != nil {
		return nil, err
	}
	res.Model, res.Kernels, res.Threads, res.LoadSeconds = path, tensor.KernelName()+"+"+quant.KernelName(), threads, load
	res.FileSizeBytes, res.PeakRSSBytes = bytesize.OfPath(path), rss.Peak()
	return res, nil
}
