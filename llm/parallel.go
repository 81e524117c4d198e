package llm

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tensor"
	"ragtune/weights"
)

// parallelPerCore is how many sequences per core a decode step serves by
// default. Decode reads every weight once per step, so sequences added to
// a step cost their compute but no more weight traffic; on two AVX2 cores
// the int8 kernels turn compute-bound past about two tokens per core, and
// aggregate decode still grows to eight sequences (BENCHMARKS.md), while
// each sequence's own speed falls.
const parallelPerCore = 4

// AutoParallel is how many generations to run at once when the user does
// not say: parallelPerCore per CPU core, between 2 and 16, lowered so that
// that many KV caches of ctxTokens each (kvBytesPerToken per token) fit in
// half the memory left after the weights (memAvail <= 0: unknown, no
// memory bound).
func AutoParallel(cores int, memAvail, weightBytes int64, ctxTokens, kvBytesPerToken int) int {
	n := min(max(parallelPerCore*cores, 2), 16)
	if memAvail > 0 && ctxTokens > 0 && kvBytesPerToken > 0 {
		perSeq := int64(ctxTokens) * int64(kvBytesPerToken)
		n = min(n, int(max((memAvail-weightBytes)/2/perSeq, 1)))
	}
	return max(n, 1)
}

// DefaultParallel is AutoParallel for the model at path (HF directory or
// GGUF file) on this machine, with contexts of ctxTokens (0: the engine's
// default) in KV cache type kvType ("" : DefaultKVType). It reads only
// the model's config; on any error it falls back to the CPU bound alone.
func DefaultParallel(path string, ctxTokens int, kvType string) int {
	cores := runtime.GOMAXPROCS(0)
	t := DefaultKVType
	if kvType != "" {
		if p, err := tensor.ParseKVType(kvType); err == nil {
			t = p
		}
	}
	src, cfg, err := qwen2.Open(path)
	if err != nil {
		return AutoParallel(cores, 0, 0, 0, 0)
	}
	src.Close()
	if ctxTokens <= 0 {
		ctxTokens = min(4096, max(cfg.MaxPositionEmbeddings, 1))
	}
	kv := 2 * cfg.NumHiddenLayers * t.RowBytes(cfg.NumKeyValueHeads*cfg.HeadDimension())
	return AutoParallel(cores, memAvailable(), weightBytes(path), ctxTokens, kv)
}

// weightBytes is the size of a GGUF file or of a directory's safetensors.
func weightBytes(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		return st.Size()
	}
	files, _ := filepath.Glob(filepath.Join(path, "*.safetensors"))
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// memAvailable is Linux's MemAvailable in bytes, 0 where unknown.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// BatchInvariant reports whether a model's generations come out the same
// whatever else shares their forward steps: every matrix is quantized
// (Q8_0/Q4_0 on the int8 tile kernels, or a K-quant), whose kernels
// quantize activations per token and sum each token alone. Float32, F16
// and BF16 matrices switch kernels with the number of rows in a step,
// which changes the last bits of the logits and, rarely, a token.
func BatchInvariant(src weights.Source) bool {
	if !quant.PackedAvailable() {
		return false // Q8_0/Q4_0 then take a float32 GEMM from 8 rows on
	}
	for _, name := range src.Names() {
		t, err := src.Tensor(name)
		if err != nil {
			return false
		}
		if len(t.Shape) == 2 && t.DType.ElementSize() > 0 {
			return false
		}
	}
	return true
}

// Parallel is how many generations the engine runs at once.
func (l *Local) Parallel() int { return len(l.slots) }
