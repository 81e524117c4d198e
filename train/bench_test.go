package train

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"ragtune/internal/cputime"
	"ragtune/model/qwen2"
)

// BenchmarkLoRAStep times one LoRA training step (r=16 on all seven
// projections, AdamW, one sequence per step) on a random model of the
// R1-Distill-Qwen-1.5B shape. RAGTUNE_BENCH_LAYERS cuts the layer count
// (default 28: the whole model, ~7 GB of float32 weights), RAGTUNE_BENCH_SEQ
// sets the sequence length (256). Peer: scripts/train_bench_torch.py.
//
//	RAGTUNE_BENCH_LAYERS=4 go test ./train -run '^$' -bench LoRAStep -benchtime 3x
func BenchmarkLoRAStep(b *testing.B) {
	cfg, err := qwen2.Preset("r1-distill-qwen-1.5b")
	if err != nil {
		b.Fatal(err)
	}
	if v, err := strconv.Atoi(os.Getenv("RAGTUNE_BENCH_LAYERS")); err == nil && v > 0 {
		cfg.NumHiddenLayers = v
	}
	T := 256
	if v, err := strconv.Atoi(os.Getenv("RAGTUNE_BENCH_SEQ")); err == nil && v > 0 {
		T = v
	}
	ckpt := os.Getenv("RAGTUNE_BENCH_CKPT") == "1"
	base := RandomBase(&cfg, 1)
	lc := LoRAConfig{R: 16, Alpha: 16, Dropout: 0.05, Targets: ModuleNames[:]}
	m, err := NewModel(&cfg, base, ModeLoRA, lc, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	m.GradCheckpoint = ckpt
	opt := NewAdamW(m.Trainable(), 0.9, 0.999, 1e-8, 0, false)
	batch := randomBatch(1, 1, T, cfg.VocabSize)
	for i := range batch.Targets {
		batch.Targets[i] = batch.Tokens[(i+1)%T] // loss on every position, as the peer
	}
	batch.Targets[T-1] = -100
	runtime.GC()
	if _, err := m.TrainStep(opt, []*Batch{batch}, 1, 1e-4); err != nil { // warm-up: buffers
		b.Fatal(err)
	}
	cpu0 := cputime.Process().Seconds()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.TrainStep(opt, []*Batch{batch}, 1, 1e-4); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(T*b.N)/b.Elapsed().Seconds(), "tokens/s")
	// CPU seconds per step: on a shared, oversubscribed machine wall time
	// depends on the neighbours; CPU time measures our own work.
	b.ReportMetric((cputime.Process().Seconds()-cpu0)/float64(b.N), "cpu-s/step")
	fmt.Fprintf(os.Stderr, "layers %d seq %d checkpointing %v\n", cfg.NumHiddenLayers, T, ckpt)
}
