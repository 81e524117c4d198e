package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ragtune/train/data"
)

// countingSamples are sequences that count up from a random start (mod V):
// the first half is prompt, the second half is learned. A model learns
// "next = previous + 1" quickly, so loss must fall.
func countingSamples(n, V int, seed uint64) []data.Sample {
	var out []data.Sample
	x := seed
	for i := 0; i < n; i++ {
		x = mix64(x + 1)
		L := 8 + int(x%5)
		start := int(x>>8) % V
		s := data.Sample{}
		for j := 0; j < L; j++ {
			tok := int32((start + j) % V)
			s.Tokens = append(s.Tokens, tok)
			if j < L/2 {
				s.Labels = append(s.Labels, -100)
			} else {
				s.Labels = append(s.Labels, tok)
			}
		}
		out = append(out, s)
	}
	return out
}

func trainOpts(dir string) Options {
	return Options{Mode: ModeLoRA, LoRA: LoRAConfig{R: 4, Alpha: 8, Dropout: 0.1, Targets: ModuleNames[:]},
		LR: 1e-2, MaxSteps: 10, Batch: 2, GradAccum: 2, Warmup: 2, Schedule: "cosine", WeightDecay: 0.01,
		EvalEvery: 5, SaveEvery: 3, Seed: 5, OutDir: dir}
}

func newTrainer(t *testing.T, opt Options) *Trainer {
	t.Helper()
	cfg := tinyConfig(t)
	m, err := NewModel(cfg, RandomBase(cfg, 1), opt.Mode, opt.LoRA, nil, opt.Seed)
	if err != nil {
		t.Fatal(err)
	}
	samples := countingSamples(40, cfg.VocabSize, 3)
	tr, err := NewTrainer(m, samples[:32], samples[32:], opt)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTrainerLearns(t *testing.T) {
	for _, mode := range []Mode{ModeLoRA, ModeFull} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			opt := trainOpts(dir)
			opt.Mode, opt.MaxSteps, opt.Epochs = mode, 0, 4
			opt.GradCheckpoint = true
			if mode == ModeFull {
				opt.LR = 3e-3
			}
			tr := newTrainer(t, opt)
			res, err := tr.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d steps: loss %.3f -> %.3f, validation %.3f -> %.3f", res.Steps, res.FirstLoss, res.LastLoss, res.FirstValLoss, res.BestValLoss)
			if res.Steps != 4*8 {
				t.Errorf("steps = %d, want 32 (4 epochs of 32 samples, 4 per step)", res.Steps)
			}
			if !(res.LastLoss < 0.7*res.FirstLoss) || !(res.BestValLoss < res.FirstValLoss) {
				t.Errorf("no learning: loss %.3f -> %.3f, validation %.3f -> %.3f", res.FirstLoss, res.LastLoss, res.FirstValLoss, res.BestValLoss)
			}
			for _, f := range []string{"train_log.jsonl", "loss.svg", "checkpoint-30/state.json", "latest"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "checkpoint-27")); err != nil {
				t.Error("checkpoint-27 should be kept (KeepLast 2)")
			}
			if _, err := os.Stat(filepath.Join(dir, "checkpoint-24")); err == nil {
				t.Error("checkpoint-24 should have been removed (KeepLast 2)")
			}
			if mode == ModeLoRA {
				ad, err := LoadAdapter(dir)
				if err != nil {
					t.Fatal(err)
				}
				if e, _ := maxAbsDiff(ad.Params.Data, tr.Model.Adapter.Data); e != 0 {
					t.Errorf("saved adapter differs from the trained one by %g", e)
				}
			} else if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
				t.Error(err)
			}
		})
	}
}

const killEnv = "RAGTUNE_TRAIN_KILL_CHILD"

// TestResumeAfterKill re-runs this test binary as a training process, kills
// it with SIGKILL after step 7 (checkpoints at 3 and 6), resumes, and checks
// the losses and the final adapter equal an uninterrupted run's exactly.
func TestResumeAfterKill(t *testing.T) {
	if dir := os.Getenv(killEnv); dir != "" {
		opt := trainOpts(dir)
		opt.AfterStep = func(step int) {
			if step == 7 {
				os.WriteFile(filepath.Join(dir, "killme"), nil, 0o644)
				time.Sleep(time.Hour)
			}
		}
		tr := newTrainer(t, opt)
		tr.Run(context.Background())
		return
	}
	ref := t.TempDir()
	if _, err := newTrainer(t, trainOpts(ref)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeAfterKill$")
	cmd.Env = append(os.Environ(), killEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "killme")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child never reached step 7:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	cmd.Wait()

	opt := trainOpts(dir)
	opt.Resume = true
	if _, err := newTrainer(t, opt).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, err := ReadLog(filepath.Join(ref, "train_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadLog(filepath.Join(dir, "train_log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("resumed log has %d entries, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Step != want[i].Step || got[i].Loss != want[i].Loss || got[i].ValLoss != want[i].ValLoss || got[i].GradNorm != want[i].GradNorm {
			t.Errorf("entry %d: resumed step %d loss %v val %v, uninterrupted step %d loss %v val %v",
				i, got[i].Step, got[i].Loss, got[i].ValLoss, want[i].Step, want[i].Loss, want[i].ValLoss)
		}
	}
	a, _ := os.ReadFile(filepath.Join(ref, "adapter_model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("resumed adapter differs from the uninterrupted one")
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	dir := t.TempDir()
	opt := trainOpts(dir)
	opt.AfterStep = nil
	tr := newTrainer(t, opt)
	// Poison the adapter after step 4 (a checkpoint exists at 3).
	tr.Opt.AfterStep = func(step int) {
		if step == 4 {
			tr.Model.Adapter.Data[0] = float32(math.Inf(1))
		}
	}
	_, err := tr.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("error = %v, want ErrNonFinite", err)
	}
	if got := err.Error(); !bytes.Contains([]byte(got), []byte("checkpoint-3")) {
		t.Errorf("error %q does not name the last good checkpoint", got)
	}
}

func TestEarlyStopKeepsBest(t *testing.T) {
	dir := t.TempDir()
	opt := trainOpts(dir)
	opt.LR, opt.Warmup, opt.Schedule = 0.5, 0, "constant" // diverges after a few steps
	opt.EvalEvery, opt.EarlyStop, opt.MaxSteps, opt.SaveEvery = 1, 2, 40, 0
	tr := newTrainer(t, opt)
	res, err := tr.Run(context.Background())
	if err != nil && !errors.Is(err, ErrNonFinite) {
		t.Fatal(err)
	}
	if err != nil {
		t.Skip("diverged to NaN before early stopping could trigger")
	}
	if !res.StoppedEarly || res.Steps >= 40 {
		t.Fatalf("stopped early %v after %d steps", res.StoppedEarly, res.Steps)
	}
	vl, err := tr.Evaluate(tr.Val)
	if err != nil {
		t.Fatal(err)
	}
	if vl != res.BestValLoss {
		t.Errorf("weights after early stop give validation loss %v, want the best %v", vl, res.BestValLoss)
	}
}

// TestInterruptSavesCheckpoint cancels a run without SaveEvery after step
// 4: the trainer saves a checkpoint anyway, and resuming from it ends with
// the same adapter as an uninterrupted run, byte for byte.
func TestInterruptSavesCheckpoint(t *testing.T) {
	ref := t.TempDir()
	refOpt := trainOpts(ref)
	refOpt.SaveEvery = 0
	if _, err := newTrainer(t, refOpt).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	opt := trainOpts(dir)
	opt.SaveEvery = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt.AfterStep = func(step int) {
		if step == 4 {
			cancel()
		}
	}
	_, err := newTrainer(t, opt).Run(ctx)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want *InterruptedError wrapping context.Canceled", err)
	}
	if ie.Step != 4 || ie.Total != 10 || filepath.Base(ie.Checkpoint) != "checkpoint-4" {
		t.Errorf("interrupted at %d of %d, checkpoint %q", ie.Step, ie.Total, ie.Checkpoint)
	}
	if _, err := os.Stat(filepath.Join(dir, "adapter_model.safetensors")); err == nil {
		t.Error("an interrupted run wrote the final adapter")
	}

	opt = trainOpts(dir)
	opt.SaveEvery, opt.Resume = 0, true
	if _, err := newTrainer(t, opt).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(ref, "adapter_model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "adapter_model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the resumed adapter differs from the uninterrupted one")
	}
}

// TestInterruptBeforeFirstStep: nothing trained, nothing saved, and the
// error says so.
func TestInterruptBeforeFirstStep(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTrainer(t, trainOpts(dir)).Run(ctx)
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Checkpoint != "" {
		t.Fatalf("error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "latest")); err == nil {
		t.Error("a checkpoint was saved before any step")
	}
}

// TestNaNWeightsNeverSaved: a NaN learning rate poisons the weights in the
// first update; neither the adapter nor a checkpoint may carry them.
func TestNaNWeightsNeverSaved(t *testing.T) {
	for _, save := range []int{0, 1} {
		dir := t.TempDir()
		opt := trainOpts(dir)
		opt.LR, opt.MaxSteps, opt.SaveEvery, opt.EvalEvery = math.NaN(), 2, save, 0
		_, err := newTrainer(t, opt).Run(context.Background())
		if !errors.Is(err, ErrDiverged) && !errors.Is(err, ErrNonFinite) {
			t.Fatalf("save-every %d: error = %v, want ErrDiverged", save, err)
		}
		if !strings.Contains(err.Error(), "lr") {
			t.Errorf("error %q does not say what to try", err)
		}
		for _, f := range []string{"adapter_model.safetensors", "checkpoint-1", "latest"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				t.Errorf("save-every %d: %s was written with NaN weights", save, f)
			}
		}
	}
}
