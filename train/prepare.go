package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
	"ragtune/train/data"
)

// CheckOut decides, before anything loads, whether the run may write to
// c.Out: --resume needs the latest checkpoint there (and the one a YAML
// names must be it); a checkpoint of an earlier run needs --resume or
// --force; otherwise Out must be empty or new, and --force clears it.
// Refusals are cli usage errors naming the flag that changes the answer.
func (c *RunConfig) CheckOut() error {
	if st, err := os.Stat(c.Model); err == nil && !st.IsDir() && !strings.HasSuffix(c.Model, ".safetensors") {
		hf := strings.TrimSuffix(filepath.Base(c.Model), filepath.Ext(c.Model)) + "-hf"
		return fmt.Errorf("train reads HF model directories, not GGUF files: convert it first with 'ragtune model convert --model %s --out %s', then pass --model %s", c.Model, hf, hf)
	}
	switch {
	case c.Resume:
		latest := LatestCheckpoint(c.Out)
		if latest == "" {
			return cli.Usagef("--resume: %s has no checkpoint to continue (leave out --resume to start a new run)", c.Out)
		}
		if c.ResumeFrom != "" && filepath.Base(c.ResumeFrom) != filepath.Base(latest) {
			return cli.Usagef("resume_from_checkpoint names %s, but the latest checkpoint in %s is %s: ragtune continues only the latest (set resume_from_checkpoint: true)", c.ResumeFrom, c.Out, filepath.Base(latest))
		}
	case HasCheckpoint(c.Out) && !c.Force:
		return cli.Usagef("--out %s holds an earlier run's checkpoint: continue it with --resume, or pass --force to start over", c.Out)
	default:
		if err := cli.OutputDir("--out", c.Out, c.Force); err != nil {
			return err
		}
		if c.Force {
			if err := ClearRun(c.Out); err != nil {
				return fmt.Errorf("clear %s: %w", c.Out, err)
			}
		}
	}
	return nil
}

// Run is a training run made ready by Prepare: the model with its
// trainable parameters, the encoded data split and the trainer over them.
type Run struct {
	Trainer    *Trainer
	Model      *Model
	Config     *qwen2.Config
	Mode       Mode
	Train, Val []data.Sample
	Tokens     int           // in the training examples
	LoadTime   time.Duration // model, tokenizer and data
}

// Prepare loads rc.Model (frozen in rc.BaseDType for LoRA), its tokenizer
// and chat template, reads and encodes the data, holds out the validation
// split and builds the trainer, whose per-step status goes to progress.
// Notes on the data (malformed rows skipped, examples too long) go to
// log.
func Prepare(rc RunConfig, progress, log io.Writer) (*Run, error) {
	start := time.Now()
	m, err := ParseMode(rc.Mode)
	if err != nil {
		return nil, err
	}
	src, cfg, err := qwen2.Open(rc.Model)
	if err != nil {
		return nil, err
	}
	var base *ParamSet
	var frozen Frozen
	if rc.BaseDType == "f32" {
		base, err = LoadBase(src, cfg)
	} else {
		base, frozen, err = LoadFrozenBase(src, cfg, rc.BaseDType)
	}
	src.Close()
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(rc.Model)
	if err != nil {
		return nil, fmt.Errorf("train needs the model's tokenizer: %w", err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("the tokenizer has %d tokens but the model only %d embeddings", tok.VocabSize(), cfg.VocabSize)
	}
	tmpl, err := LoadTemplate(rc.ChatTemplate, rc.Model, tok)
	if err != nil {
		return nil, err
	}

	exs, st, err := rc.ReadData()
	if err != nil {
		return nil, err
	}
	if st.Skipped > 0 {
		fmt.Fprintf(log, "skipped %d malformed rows of %d (first: %s)\n", st.Skipped, st.Rows, st.FirstSkip)
	}
	samples, tooLong, err := data.EncodeAll(exs, tmpl.Render, tok, rc.MaxSeq)
	if err != nil {
		return nil, err
	}
	if tooLong > 0 {
		fmt.Fprintf(log, "dropped %s whose prompt alone exceeds --max-seq %d\n", plural.Count(tooLong, "example"), rc.MaxSeq)
	}
	r := &Run{Config: cfg, Mode: m}
	r.Train, r.Val = data.Split(samples, rc.ValSplit, rc.Seed)
	if len(r.Train) == 0 {
		return nil, fmt.Errorf("no training examples left in %s", rc.DataName())
	}
	for _, s := range r.Train {
		r.Tokens += len(s.Tokens)
	}
	pad := tok.Pad()
	if pad < 0 {
		pad = tok.EOS()
	}
	if pad < 0 {
		pad = 0
	}

	if frozen != nil {
		r.Model, err = NewLoRAModel(cfg, base, frozen, rc.LoRA, nil, rc.Seed)
	} else {
		r.Model, err = NewModel(cfg, base, m, rc.LoRA, nil, rc.Seed)
	}
	if err != nil {
		return nil, err
	}
	clip := rc.Clip
	if clip <= 0 {
		clip = -1 // the CLI's "0 disables" is Options' "negative disables"
	}
	r.Trainer, err = NewTrainer(r.Model, r.Train, r.Val, Options{
		Mode: m, LoRA: rc.LoRA, LR: rc.LR, Epochs: rc.Epochs, MaxSteps: rc.MaxSteps, Batch: rc.Batch, GradAccum: rc.GradAccum,
		Warmup: rc.Warmup, Schedule: rc.Schedule, Beta1: rc.Beta1, Beta2: rc.Beta2, WeightDecay: rc.WeightDecay, Clip: clip,
		EvalEvery: rc.EvalEvery, EarlyStop: rc.EarlyStop, SaveEvery: rc.SaveEvery, GradCheckpoint: rc.GradCheckpoint,
		Seed: rc.Seed, Pad: int32(pad), OutDir: rc.Out, Resume: rc.Resume, BaseModel: rc.Model, Progress: progress,
	})
	if err != nil {
		return nil, err
	}
	r.Trainer.Opt.Warmup = rc.WarmupSteps(r.Trainer.TotalSteps())
	r.LoadTime = time.Since(start)
	return r, nil
}

// WriteSummary says what is about to be trained: the model's shape, the
// share of its parameters that train, and the data and step counts.
func (r *Run) WriteSummary(w io.Writer, modelPath string) {
	nparams, total := len(r.Model.Trainable().Data), CountParams(r.Config)
	fmt.Fprintf(w, "%s: %d layers, hidden %d; %s training of %d parameters (%.2f%% of %d)\n",
		filepath.Base(filepath.Clean(modelPath)), r.Config.NumHiddenLayers, r.Config.HiddenSize, r.Mode, nparams,
		100*float64(nparams)/float64(total), total)
	fmt.Fprintf(w, "data: %d training examples (%d tokens), %d validation; %d steps; loaded in %.1fs\n",
		len(r.Train), r.Tokens, len(r.Val), r.Trainer.TotalSteps(), r.LoadTime.Seconds())
}

// WriteSummary writes the lines a finished run ends with: steps and
// time, training loss first to last, validation loss and perplexity when
// there was a validation split, the speed, and where the output is.
func (r *Result) WriteSummary(w io.Writer, out string) {
	fmt.Fprintf(w, "trained %d steps in %s: loss %.4f → %.4f", r.Steps, r.Elapsed.Round(time.Second), r.FirstLoss, r.LastLoss)
	if !math.IsNaN(r.BestValLoss) {
		fmt.Fprintf(w, ", validation loss %.4f → %.4f (perplexity %.2f → %.2f)", r.FirstValLoss, r.BestValLoss, math.Exp(r.FirstValLoss), math.Exp(r.BestValLoss))
	}
	fmt.Fprintf(w, "\n%d tokens, %.0f tokens/s; output in %s\n", r.Tokens, float64(r.Tokens)/r.Elapsed.Seconds(), out)
}

// DataName names the run's data in messages: the --data file, or the
// LLaMA-Factory datasets.
func (c *RunConfig) DataName() string {
	if len(c.Sets) == 0 {
		return c.Data
	}
	names := make([]string, len(c.Sets))
	for i, s := range c.Sets {
		names[i] = s.Name
	}
	return "dataset " + strings.Join(names, ",")
}

// LoadTemplate picks the chat template the training examples are
// rendered with: the built-in "r1" or "qwen", a .jinja file, or ("") the
// model's own from tokenizer_config.json.
func LoadTemplate(name, modelDir string, tok *tokenizer.BPE) (*chat.Template, error) {
	special := func() chat.Special {
		var sp chat.Special
		if id := tok.BOS(); id >= 0 {
			sp.BOS = tok.Token(id)
		}
		if id := tok.EOS(); id >= 0 {
			sp.EOS = tok.Token(id)
		}
		return sp
	}
	switch name {
	case "":
		t, err := chat.LoadTemplate(modelDir)
		if err != nil {
			return nil, fmt.Errorf("train needs a chat template: %w (pass --chat-template r1, qwen or a .jinja file)", err)
		}
		return t, nil
	case "r1":
		return chat.Parse(chat.R1Template, special())
	case "qwen":
		return chat.Parse(chat.QwenTemplate, special())
	}
	return chat.LoadTemplate(name)
}

// ExportRun writes the run for LLaMA-Factory into dir instead of training
// (ExportLlamaFactory over the run's data) and returns how many examples
// it wrote. Notes on what could not be carried over go to log.
func ExportRun(rc RunConfig, dir string, log io.Writer) (int, error) {
	if err := cli.OutputDir("--export-llamafactory", dir, rc.Force); err != nil {
		return 0, err
	}
	exs, st, err := rc.ReadData()
	if err != nil {
		return 0, err
	}
	if st.Skipped > 0 {
		fmt.Fprintf(log, "skipped %d malformed rows of %d (first: %s)\n", st.Skipped, st.Rows, st.FirstSkip)
	}
	notes, err := ExportLlamaFactory(dir, rc, exs, ModelChatTemplate(rc.Model))
	if err != nil {
		return 0, err
	}
	for _, n := range notes {
		fmt.Fprintln(log, "note:", n)
	}
	return len(exs), nil
}

// TargetList is a flag.Value over LoRAConfig.Targets: a comma-separated
// list of projections (q,k,v,o,gate,up,down or all; q_proj also works),
// checked by ParseTargets when the flag is parsed.
type TargetList []string

func (l *TargetList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set implements flag.Value.
func (l *TargetList) Set(s string) error {
	t, err := ParseTargets(s)
	if err != nil {
		return err
	}
	*l = t
	return nil
}

// ResumeCommand is the command line that continues an interrupted run
// started with args: the same arguments with --resume (and without
// --force, which would start over), quoted for a shell.
func ResumeCommand(args []string) string {
	parts := []string{"ragtune", "train"}
	resume := false
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "force", "force=true":
			continue
		case "resume", "resume=true":
			resume = true
		}
		parts = append(parts, cli.ShellQuote(a))
	}
	if !resume {
		parts = append(parts, "--resume")
	}
	return strings.Join(parts, " ")
}
