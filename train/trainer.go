package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"ragtune/internal/atomicfile"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/safetensors"
	"ragtune/train/data"
	"ragtune/weights"
)

// Options configure a training run. Zero values take the defaults noted.
type Options struct {
	Mode Mode
	LoRA LoRAConfig

	LR          float64 // peak learning rate (2e-4)
	Epochs      int     // passes over the data (1), unless MaxSteps > 0
	MaxSteps    int     // stop after this many steps (0: Epochs decide)
	Batch       int     // sequences per micro-batch (1)
	GradAccum   int     // micro-batches per step (1)
	Warmup      int     // warmup steps (0)
	Schedule    string  // linear, cosine or constant (cosine)
	Beta1       float64 // 0.9
	Beta2       float64 // 0.999
	Eps         float64 // 1e-8
	WeightDecay float64 // 0 (decoupled; never on biases and norms unless DecayAll)
	DecayAll    bool
	Clip        float64 // global gradient-norm clip (1.0; negative disables)

	EvalEvery int // validation loss every N steps (0: only at the end)
	EarlyStop int // stop after N evaluations without improvement (0: never)
	SaveEvery int // checkpoint every N steps (0: never)
	KeepLast  int // checkpoints kept (2)

	GradCheckpoint bool
	Seed           uint64
	Pad            int32

	OutDir    string
	Resume    bool
	BaseModel string // recorded in adapter_config.json

	// Progress receives a status line per step (typically stderr).
	Progress io.Writer
	// AfterStep, when set, is called after each step (tests use it to
	// interrupt a run at a known point).
	AfterStep func(step int)
}

func (o *Options) defaults() {
	if o.LR == 0 {
		o.LR = 2e-4
	}
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.Batch == 0 {
		o.Batch = 1
	}
	if o.GradAccum == 0 {
		o.GradAccum = 1
	}
	if o.Schedule == "" {
		o.Schedule = "cosine"
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.Clip == 0 {
		o.Clip = 1
	}
	if o.KeepLast == 0 {
		o.KeepLast = 2
	}
}

// Result summarizes a finished run.
type Result struct {
	Steps        int
	FirstLoss    float64
	LastLoss     float64 // mean of the last min(10, Steps) step losses
	BestValLoss  float64 // NaN when there is no validation set
	FirstValLoss float64
	StoppedEarly bool
	Tokens       int
	Elapsed      time.Duration
}

// LogEntry is one line of train_log.jsonl.
type LogEntry struct {
	Step      int     `json:"step"`
	Epoch     float64 `json:"epoch"`
	Loss      float64 `json:"loss,omitempty"`
	LR        float64 `json:"lr,omitempty"`
	GradNorm  float64 `json:"grad_norm,omitempty"`
	Tokens    int     `json:"tokens,omitempty"`
	TokPerSec float64 `json:"tokens_per_s,omitempty"`
	ValLoss   float64 `json:"val_loss,omitempty"`
	ValPPL    float64 `json:"val_ppl,omitempty"`
	Elapsed   float64 `json:"elapsed_s"`
}

// Trainer runs the loop: steps, evaluation, checkpoints, logs, output.
type Trainer struct {
	Opt    Options
	Model  *Model
	AdamW  *AdamW
	Loader *Loader
	Val    []data.Sample

	Step      int
	BestVal   float64
	BadEvals  int
	best      []float32 // trainable values at BestVal (EarlyStop only)
	log       []LogEntry
	totalStep int
}

// ckptState is checkpoint-N/state.json.
type ckptState struct {
	Step      int     `json:"step"`
	Epoch     int     `json:"epoch"`
	Pos       int     `json:"pos"`
	Calls     uint64  `json:"dropout_calls"`
	AdamStep  int     `json:"adam_step"`
	BestVal   float64 `json:"best_val"`
	BadEvals  int     `json:"bad_evals"`
	Mode      string  `json:"mode"`
	NumParams int     `json:"num_params"`
	TotalStep int     `json:"total_steps"`
}

// NewTrainer wires a model to the data. train must not be empty.
func NewTrainer(m *Model, trainSet, val []data.Sample, opt Options) (*Trainer, error) {
	opt.defaults()
	if err := ParseSchedule(opt.Schedule); err != nil {
		return nil, err
	}
	if len(trainSet) == 0 {
		return nil, errors.New("no training samples")
	}
	if opt.OutDir == "" {
		return nil, errors.New("no output directory (--out)")
	}
	m.GradCheckpoint = opt.GradCheckpoint
	t := &Trainer{Opt: opt, Model: m, Val: val, BestVal: math.Inf(1),
		AdamW:  NewAdamW(m.Trainable(), opt.Beta1, opt.Beta2, opt.Eps, opt.WeightDecay, opt.DecayAll),
		Loader: NewLoader(trainSet, opt.Batch, opt.GradAccum, opt.Pad, opt.Seed)}
	t.totalStep = opt.MaxSteps
	if t.totalStep <= 0 {
		t.totalStep = opt.Epochs * t.Loader.StepsPerEpoch()
	}
	return t, nil
}

// TotalSteps is the number of steps the run will take (unless it stops
// early).
func (t *Trainer) TotalSteps() int { return t.totalStep }

// Evaluate returns the mean validation loss (no dropout) over samples.
func (t *Trainer) Evaluate(samples []data.Sample) (float64, error) {
	var sum float64
	var count int
	for i := 0; i < len(samples); i += t.Opt.Batch {
		b := MakeBatch(samples[i:min(i+t.Opt.Batch, len(samples))], t.Opt.Pad)
		s, c, err := t.Model.Loss(b)
		if err != nil {
			return 0, err
		}
		sum += s
		count += c
	}
	if count == 0 {
		return math.NaN(), nil
	}
	return sum / float64(count), nil
}

// Run trains until the step budget, early stopping, ctx cancellation
// (which saves a checkpoint and returns *InterruptedError) or a non-finite
// loss (which keeps the last good checkpoint and returns ErrNonFinite).
// Non-finite weights are never written (ErrDiverged).
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	r, err := t.begin()
	if err != nil {
		return nil, err
	}
	defer r.logf.Close()
	if len(t.Val) > 0 && t.Step == 0 {
		// The starting point, so the log and the result show what
		// training changed.
		if err := t.validateStart(r); err != nil {
			return nil, err
		}
	}
	for t.Step < t.totalStep {
		if err := ctx.Err(); err != nil {
			return nil, t.interrupted(err)
		}
		if err := t.trainStep(r); err != nil {
			return nil, err
		}
		stop := false
		if len(t.Val) > 0 && ((t.Opt.EvalEvery > 0 && t.Step%t.Opt.EvalEvery == 0) || t.Step == t.totalStep) {
			if stop, err = t.validate(r); err != nil {
				return nil, err
			}
		}
		if t.Opt.SaveEvery > 0 && t.Step%t.Opt.SaveEvery == 0 && t.Step < t.totalStep {
			if err := t.saveCheckpoint(); err != nil {
				return nil, err
			}
		}
		if t.Opt.AfterStep != nil {
			t.Opt.AfterStep(t.Step)
		}
		if stop {
			break
		}
	}
	return t.finish(r)
}

// run is what one Run carries from step to step.
type run struct {
	logf      *os.File // train_log.jsonl, appended to
	sched     Schedule
	res       *Result
	start     time.Time
	startStep int       // the step Run began at (> 0 when resumed)
	recent    []float64 // the last ten step losses, for Result.LastLoss
	stepsPer  float64   // steps per epoch
}

// begin prepares a run: the output directory, the state of a resumed run,
// the log, and a Result that reports from the very start of training
// (the first losses of a resumed run come from its log).
func (t *Trainer) begin() (*run, error) {
	o := &t.Opt
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	if o.Resume {
		if err := t.resume(); err != nil {
			return nil, err
		}
	}
	logf, err := os.OpenFile(filepath.Join(o.OutDir, "train_log.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open training log: %w", err)
	}
	r := &run{
		logf:  logf,
		sched: Schedule{Kind: o.Schedule, Peak: o.LR, Warmup: o.Warmup, Total: t.totalStep},
		res:   &Result{BestValLoss: math.NaN(), FirstValLoss: math.NaN(), FirstLoss: math.NaN()},
		start: time.Now(), startStep: t.Step, stepsPer: float64(t.Loader.StepsPerEpoch()),
	}
	for _, e := range t.log {
		if e.ValLoss != 0 && math.IsNaN(r.res.FirstValLoss) {
			r.res.FirstValLoss = e.ValLoss
		}
		if e.Loss != 0 && math.IsNaN(r.res.FirstLoss) {
			r.res.FirstLoss = e.Loss
		}
	}
	return r, nil
}

// writeLog appends e to the in-memory log and to train_log.jsonl.
func (t *Trainer) writeLog(r *run, e LogEntry) error {
	t.log = append(t.log, e)
	b, _ := json.Marshal(e)
	if _, err := r.logf.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write training log: %w", err)
	}
	return nil
}

// validateStart measures the validation loss before the first step; it is
// the first best (and, with early stopping, the first best weights).
func (t *Trainer) validateStart(r *run) error {
	vl, err := t.Evaluate(t.Val)
	if err != nil {
		return err
	}
	r.res.FirstValLoss, t.BestVal = vl, vl
	if t.Opt.EarlyStop > 0 {
		t.best = append(t.best[:0], t.Model.Trainable().Data...)
	}
	if err := t.writeLog(r, LogEntry{Step: 0, ValLoss: vl, ValPPL: math.Exp(vl)}); err != nil {
		return err
	}
	if p := t.Opt.Progress; p != nil {
		fmt.Fprintf(p, "step 0: validation loss %.4f (perplexity %.2f)\n", vl, math.Exp(vl))
	}
	return nil
}

// InterruptedError is Run's error when its context ends (Ctrl-C): the run
// stopped after Step of Total steps and, when any step was taken, saved
// Checkpoint, which Options.Resume continues exactly.
type InterruptedError struct {
	Step, Total int
	Checkpoint  string // "" when no step was taken
	Cause       error
}

func (e *InterruptedError) Error() string {
	if e.Checkpoint == "" {
		return fmt.Sprintf("training stopped before the first step finished; nothing was saved (%v)", e.Cause)
	}
	return fmt.Sprintf("training stopped after step %d of %d; saved checkpoint %s (%v)", e.Step, e.Total, e.Checkpoint, e.Cause)
}

func (e *InterruptedError) Unwrap() error { return e.Cause }

// interrupted always saves a checkpoint when the context ends the run
// (unless no step was taken, or the last step's checkpoint exists), so an
// interrupted run loses nothing, whether or not SaveEvery was set.
func (t *Trainer) interrupted(cause error) error {
	e := &InterruptedError{Step: t.Step, Total: t.totalStep, Cause: cause}
	if t.Step == 0 {
		return e
	}
	if last := t.latestCheckpoint(); last != "" && filepath.Base(last) == fmt.Sprintf("checkpoint-%d", t.Step) {
		e.Checkpoint = last
		return e
	}
	if err := t.saveCheckpoint(); err != nil {
		return fmt.Errorf("training stopped after step %d, but saving a checkpoint failed: %w", t.Step, err)
	}
	e.Checkpoint = t.latestCheckpoint()
	return e
}

// ErrDiverged is returned instead of saving weights that are not finite.
var ErrDiverged = errors.New("training diverged: the weights are NaN or infinite")

// checkFinite refuses to let non-finite trainable weights reach a file.
func (t *Trainer) checkFinite() error {
	for _, v := range t.Model.Trainable().Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("after step %d: %w; nothing was saved. Lower --lr (now %g), keep --clip on, or check the data", t.Step, ErrDiverged, t.Opt.LR)
		}
	}
	return nil
}

// trainStep takes one optimizer step over the loader's next micro-batches,
// logs it and reports progress. A non-finite loss stops training, naming
// the checkpoint to resume from.
func (t *Trainer) trainStep(r *run) error {
	stepStart := time.Now()
	micro := t.Loader.NextStep()
	lr := r.sched.LR(t.Step)
	sr, err := t.Model.TrainStep(t.AdamW, micro, t.Opt.Clip, lr)
	if errors.Is(err, ErrNonFinite) {
		last := t.latestCheckpoint()
		msg := fmt.Sprintf("training diverged and nothing was saved; try a lower --lr (now %g), keep --clip on, or check the data", t.Opt.LR)
		if last != "" {
			msg = "the last good checkpoint is " + last + " (continue with --resume, perhaps with a lower --lr)"
		}
		return fmt.Errorf("step %d: %w; stopping: %s", t.Step+1, err, msg)
	}
	if err != nil {
		return fmt.Errorf("step %d: %w", t.Step+1, err)
	}
	t.Step++
	dt := time.Since(stepStart).Seconds()
	r.res.Tokens += t.Loader.LastTokens
	if math.IsNaN(r.res.FirstLoss) {
		r.res.FirstLoss = sr.Loss
	}
	r.recent = append(r.recent, sr.Loss)
	if len(r.recent) > 10 {
		r.recent = r.recent[1:]
	}
	e := LogEntry{Step: t.Step, Epoch: float64(t.Step) / r.stepsPer, Loss: sr.Loss, LR: lr, GradNorm: sr.GradNorm,
		Tokens: t.Loader.LastTokens, TokPerSec: float64(t.Loader.LastTokens) / dt, Elapsed: time.Since(r.start).Seconds()}
	if err := t.writeLog(r, e); err != nil {
		return err
	}
	if p := t.Opt.Progress; p != nil {
		el := time.Since(r.start)
		eta := time.Duration(float64(el) / float64(t.Step-r.startStep) * float64(t.totalStep-t.Step))
		fmt.Fprintf(p, "\rstep %d/%d  loss %.4f  lr %.3g  %.0f tok/s  ETA %s   ", t.Step, t.totalStep, sr.Loss, lr, e.TokPerSec, eta.Round(time.Second))
	}
	return nil
}

// validate measures the validation loss after a step, logs it, and keeps
// the early-stopping account: the best loss (and weights), and whether
// EarlyStop evaluations in a row failed to improve on it (stop).
func (t *Trainer) validate(r *run) (stop bool, err error) {
	o := &t.Opt
	vl, err := t.Evaluate(t.Val)
	if err != nil {
		return false, err
	}
	if math.IsNaN(r.res.FirstValLoss) {
		r.res.FirstValLoss = vl
	}
	if err := t.writeLog(r, LogEntry{Step: t.Step, Epoch: float64(t.Step) / r.stepsPer, ValLoss: vl, ValPPL: math.Exp(vl), Elapsed: time.Since(r.start).Seconds()}); err != nil {
		return false, err
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "\nstep %d: validation loss %.4f (perplexity %.2f)\n", t.Step, vl, math.Exp(vl))
	}
	if vl < t.BestVal {
		t.BestVal, t.BadEvals = vl, 0
		if o.EarlyStop > 0 {
			t.best = append(t.best[:0], t.Model.Trainable().Data...)
		}
		return false, nil
	}
	t.BadEvals++
	if o.EarlyStop > 0 && t.BadEvals >= o.EarlyStop {
		r.res.StoppedEarly = true
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "early stop: no improvement in %d evaluations; keeping the best weights (validation loss %.4f)\n", t.BadEvals, t.BestVal)
		}
		return true, nil
	}
	return false, nil
}

// finish restores the best weights after an early stop, completes the
// Result, and writes loss.svg and the trained adapter or model.
func (t *Trainer) finish(r *run) (*Result, error) {
	res := r.res
	if t.Opt.Progress != nil {
		fmt.Fprintln(t.Opt.Progress)
	}
	if res.StoppedEarly && t.best != nil {
		copy(t.Model.Trainable().Data, t.best)
	}
	res.Steps = t.Step
	if !math.IsInf(t.BestVal, 1) {
		res.BestValLoss = t.BestVal
	}
	var s float64
	for _, l := range r.recent {
		s += l
	}
	res.LastLoss = s / float64(max(1, len(r.recent)))
	res.Elapsed = time.Since(r.start)
	if err := WriteLossSVG(filepath.Join(t.Opt.OutDir, "loss.svg"), t.log); err != nil {
		return nil, err
	}
	if err := t.SaveOutput(); err != nil {
		return nil, err
	}
	return res, nil
}

// SaveOutput writes the result to OutDir: a PEFT adapter in LoRA mode, a
// complete model directory (config.json + model.safetensors, F32) in full
// mode.
func (t *Trainer) SaveOutput() error {
	if err := t.checkFinite(); err != nil {
		return err
	}
	m := t.Model
	if m.Mode == ModeLoRA {
		return SaveAdapter(t.Opt.OutDir, m.LoRA, m.Adapter, t.Opt.BaseModel)
	}
	if err := SaveModel(t.Opt.OutDir, m.Cfg, m.Base); err != nil {
		return err
	}
	if t.Opt.BaseModel != "" {
		return CopyTokenizerFiles(t.Opt.BaseModel, t.Opt.OutDir)
	}
	return nil
}

// SaveModel writes cfg and float32 weights as an HF model directory
// (config.json, generation_config.json, model.safetensors).
func SaveModel(dir string, cfg *qwen2.Config, p *ParamSet) error {
	return qwen2.SaveHF(dir, SourceOf(p), *cfg, qwen2.SaveOptions{DType: weights.F32})
}

// checkpoint layout: OutDir/checkpoint-N/{state.json, state.safetensors},
// written to a temp directory and renamed into place, then OutDir/latest
// (the name of the newest complete checkpoint) is replaced atomically.

func (t *Trainer) saveCheckpoint() error {
	if err := t.checkFinite(); err != nil {
		return err
	}
	o := &t.Opt
	name := fmt.Sprintf("checkpoint-%d", t.Step)
	final := filepath.Join(o.OutDir, name)
	tmp, err := atomicfile.CreateDir(final)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	st := ckptState{Step: t.Step, Epoch: t.Loader.Epoch, Pos: t.Loader.Pos, Calls: t.Model.Calls, AdamStep: t.AdamW.Step,
		BestVal: t.BestVal, BadEvals: t.BadEvals, Mode: t.Model.Mode.String(), NumParams: len(t.Model.Trainable().Data), TotalStep: t.totalStep}
	if math.IsInf(st.BestVal, 1) {
		st.BestVal = math.MaxFloat64
	}
	if err := model.WriteJSON(filepath.Join(tmp, "state.json"), st); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	w := safetensors.NewWriter(filepath.Join(tmp, "state.safetensors"))
	add := func(n string, v []float32) {
		if err == nil {
			err = w.Add(n, safetensors.F32, []int{len(v)}, f32Bytes(v))
		}
	}
	add("params", t.Model.Trainable().Data)
	add("adam_m", t.AdamW.M.Data)
	add("adam_v", t.AdamW.V.Data)
	if t.best != nil {
		add("best", t.best)
	}
	if err != nil {
		w.Abort()
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := atomicfile.CommitDir(tmp, final); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := model.WriteFileAtomic(filepath.Join(o.OutDir, "latest"), []byte(name+"\n")); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	// Drop older checkpoints beyond KeepLast.
	ents, _ := os.ReadDir(o.OutDir)
	var steps []int
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), "checkpoint-"); ok && e.IsDir() {
			if s, err := strconv.Atoi(n); err == nil {
				steps = append(steps, s)
			}
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(steps)))
	for i, s := range steps {
		if i >= o.KeepLast {
			os.RemoveAll(filepath.Join(o.OutDir, fmt.Sprintf("checkpoint-%d", s)))
		}
	}
	return nil
}

// ClearRun removes what an earlier run left in dir that a new run would
// otherwise mix with its own: the training log (appended to), the
// checkpoints and the pointer to the latest one. The user's other files,
// and the earlier adapter or model (overwritten at the end), stay.
func ClearRun(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if n == "train_log.jsonl" || n == "latest" || (e.IsDir() && strings.HasPrefix(n, "checkpoint-")) {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// HasCheckpoint reports whether dir holds a checkpoint Resume can continue.
func HasCheckpoint(dir string) bool { return LatestCheckpoint(dir) != "" }

// LatestCheckpoint is the checkpoint Resume continues in dir, or "".
func LatestCheckpoint(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "latest"))
	if err != nil {
		return ""
	}
	return filepath.Join(dir, strings.TrimSpace(string(b)))
}

// latestCheckpoint returns the newest complete checkpoint's path, or "".
func (t *Trainer) latestCheckpoint() string { return LatestCheckpoint(t.Opt.OutDir) }

// resume loads the latest checkpoint and truncates the log to it, so the
// steps redone after a crash are logged once.
func (t *Trainer) resume() error {
	dir := t.latestCheckpoint()
	if dir == "" {
		return fmt.Errorf("--resume: no checkpoint in %s (was the run started with --save-every?)", t.Opt.OutDir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	var st ckptState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("resume: parse %s/state.json: %w", dir, err)
	}
	if st.Mode != t.Model.Mode.String() || st.NumParams != len(t.Model.Trainable().Data) {
		return fmt.Errorf("resume: checkpoint %s is a %s run with %d parameters, this run is %s with %d; use the same model and options", dir, st.Mode, st.NumParams, t.Model.Mode, len(t.Model.Trainable().Data))
	}
	if st.TotalStep != t.totalStep {
		return fmt.Errorf("resume: checkpoint %s planned %d steps, this run plans %d; use the same data and --epochs/--max-steps/--batch/--grad-accum", dir, st.TotalStep, t.totalStep)
	}
	f, err := safetensors.Open(filepath.Join(dir, "state.safetensors"))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer f.Close()
	load := func(n string, dst []float32) error {
		tt, err := f.Tensor(n)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if err := decodeFloat32(dst, string(tt.DType), tt.Data); err != nil {
			return fmt.Errorf("resume: %s: %w", n, err)
		}
		return nil
	}
	for _, x := range []struct {
		n string
		v []float32
	}{{"params", t.Model.Trainable().Data}, {"adam_m", t.AdamW.M.Data}, {"adam_v", t.AdamW.V.Data}} {
		if err := load(x.n, x.v); err != nil {
			return err
		}
	}
	if _, err := f.Tensor("best"); err == nil {
		t.best = make([]float32, len(t.Model.Trainable().Data))
		if err := load("best", t.best); err != nil {
			return err
		}
	}
	t.Step, t.Loader.Epoch, t.Loader.Pos = st.Step, st.Epoch, st.Pos
	t.Model.Calls, t.AdamW.Step = st.Calls, st.AdamStep
	t.BestVal, t.BadEvals = st.BestVal, st.BadEvals
	if st.BestVal == math.MaxFloat64 {
		t.BestVal = math.Inf(1)
	}
	// Keep the log up to the checkpoint.
	logPath := filepath.Join(t.Opt.OutDir, "train_log.jsonl")
	old, _ := os.ReadFile(logPath)
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var e LogEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Step <= st.Step {
			kept.Write(sc.Bytes())
			kept.WriteByte('\n')
			t.log = append(t.log, e)
		}
	}
	if err := model.WriteFileAtomic(logPath, kept.Bytes()); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if t.Opt.Progress != nil {
		fmt.Fprintf(t.Opt.Progress, "resumed from %s (step %d of %d)\n", dir, st.Step, t.totalStep)
	}
	return nil
}

// ReadLog reads a train_log.jsonl.
func ReadLog(path string) ([]LogEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []LogEntry
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e LogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
