package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
	"ragtune/internal/progress"
	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/tensor"
	"ragtune/tokenizer"
	"ragtune/train"
	"ragtune/train/data"
)

func init() {
	register(&command{name: "train", summary: "fine-tune a model on chat data (LoRA or full)", run: runTrain})
}

const trainDescription = `
Supervised fine-tuning of a Qwen2-family model (DeepSeek-R1-Distill-Qwen
and others) on JSON/JSONL chat data: alpaca (instruction, input, output),
messages or sharegpt conversations (optional reasoning_content), the
medical-o1 form (Question, Complex_CoT, Response) and question/answer pairs.
Each example is rendered with the model's chat template; the loss covers
only the final assistant turn, with any reasoning inside <think>…</think>.

--mode lora (default) trains a LoRA adapter on the frozen base and writes a
PEFT adapter (adapter_config.json, adapter_model.safetensors) to --out;
--mode full trains every weight and writes a complete model directory.
The output folder also gets train_log.jsonl and loss.svg; with
--save-every, checkpoints that --resume continues exactly. An --out that
already holds files is refused unless --force (or --resume).

Ctrl-C (or SIGTERM) stops after the current step, always saves a
checkpoint, prints the command that continues it (--resume) and exits 130.
Weights that became NaN or infinite are never saved: training stops and
says so (lower --lr).

--config FILE reads a LLaMA-Factory training YAML (model_name_or_path,
finetuning_type, lora_rank, lora_alpha, lora_dropout, lora_target,
learning_rate, num_train_epochs, per_device_train_batch_size,
gradient_accumulation_steps, cutoff_len, lr_scheduler_type, warmup_ratio,
dataset with dataset_dir/dataset_info.json, template, output_dir,
save_steps, resume_from_checkpoint, ...); keys it leaves out take
LLaMA-Factory's defaults, flags given on the command line override it, and
an unknown or unsupported key is an error naming it. --export-llamafactory
DIR writes the run the other way (sharegpt data with reasoning kept,
dataset_info.json, train.yaml) for a GPU cluster; the PEFT adapter it
trains loads here (run/serve --adapter, lora merge, quantize, eval).

Examples:
  ragtune train --model ./r1-1.5b --data qa.jsonl --out lora/ --epochs 2 --save-every 100
  ragtune train --model ./r1-1.5b --data qa.jsonl --out lora/ --resume
  ragtune train --config llama_factory_run.yaml --max-steps 50
  ragtune train --model ./r1-1.5b --data qa.jsonl --out lora/ --export-llamafactory lf-run/
  ragtune train --model ./small-model --data corpus.txt --mode full --max-steps 200 --out pretrained/`

// trainFlags binds the train flags to rc, taking rc's values as the
// defaults, so flags parsed over a --config run override only what the
// command line names.
func trainFlags(rc *train.RunConfig, config, export *string) *flag.FlagSet {
	fs := newFlagSet("train", "--model DIR --data FILE --out DIR [flags] | --config RUN.yaml [flags]", trainDescription)
	fs.StringVar(config, "config", "", "LLaMA-Factory training YAML `FILE` (flags override its values)")
	fs.StringVar(export, "export-llamafactory", "", "write this run for LLaMA-Factory into `DIR` (data, dataset_info.json, train.yaml) instead of training")
	fs.StringVar(&rc.Model, "model", rc.Model, "base model: an HF model `DIR` (config.json, safetensors, tokenizer files)")
	fs.StringVar(&rc.Data, "data", rc.Data, "training data `FILE`: .json/.jsonl rows (alpaca, messages/sharegpt, medical-o1, or {\"text\": ...} for plain-text pre-training), or a .txt/.md file (one pre-training document)")
	fs.StringVar(&rc.Out, "out", rc.Out, "output `DIR` (adapter or model, logs, checkpoints)")
	fs.BoolVar(&rc.Force, "force", rc.Force, "train into an --out that already holds files (its old log and checkpoints are removed)")
	fs.StringVar(&rc.Mode, "mode", rc.Mode, "`MODE`: lora or full")
	fs.IntVar(&rc.LoRA.R, "lora-r", rc.LoRA.R, "LoRA rank")
	fs.Float64Var(&rc.LoRA.Alpha, "lora-alpha", rc.LoRA.Alpha, "LoRA alpha (scale = alpha/r)")
	fs.Float64Var(&rc.LoRA.Dropout, "lora-dropout", rc.LoRA.Dropout, "dropout on the LoRA input path")
	fs.Var((*targetList)(&rc.LoRA.Targets), "target", "LoRA target projections: a comma-separated `LIST` of q,k,v,o,gate,up,down (or all; q_proj also works)")
	fs.BoolVar(&rc.LoRA.RSLoRA, "rslora", rc.LoRA.RSLoRA, "rank-stabilized LoRA: scale = alpha/sqrt(r)")
	fs.Float64Var(&rc.LR, "lr", rc.LR, "peak learning rate")
	fs.IntVar(&rc.Epochs, "epochs", rc.Epochs, "passes over the training data")
	fs.IntVar(&rc.MaxSteps, "max-steps", rc.MaxSteps, "stop after this many optimizer steps (overrides --epochs)")
	fs.IntVar(&rc.Batch, "batch", rc.Batch, "sequences per micro-batch")
	fs.IntVar(&rc.GradAccum, "grad-accum", rc.GradAccum, "micro-batches per optimizer step (gradient accumulation)")
	fs.IntVar(&rc.MaxSeq, "max-seq", rc.MaxSeq, "maximum tokens per example (longer ones are cut at the end)")
	fs.IntVar(&rc.Warmup, "warmup", rc.Warmup, "linear warmup steps")
	fs.StringVar(&rc.Schedule, "schedule", rc.Schedule, "learning-rate `SCHEDULE` after warmup: cosine, linear or constant")
	fs.Float64Var(&rc.WeightDecay, "weight-decay", rc.WeightDecay, "AdamW decoupled weight decay (not applied to biases and norms)")
	fs.Float64Var(&rc.Beta1, "beta1", rc.Beta1, "AdamW beta1")
	fs.Float64Var(&rc.Beta2, "beta2", rc.Beta2, "AdamW beta2")
	fs.Float64Var(&rc.Clip, "clip", rc.Clip, "clip the global gradient norm to this (0 disables)")
	fs.Float64Var(&rc.ValSplit, "val-split", rc.ValSplit, "fraction of examples held out for validation (0: none)")
	fs.IntVar(&rc.EvalEvery, "eval-every", rc.EvalEvery, "validation loss every N steps (0: at the end only)")
	fs.IntVar(&rc.EarlyStop, "early-stop", rc.EarlyStop, "stop after N evaluations without improvement, keeping the best weights")
	fs.IntVar(&rc.SaveEvery, "save-every", rc.SaveEvery, "checkpoint every N steps (Ctrl-C saves one in any case)")
	fs.BoolVar(&rc.GradCheckpoint, "grad-checkpoint", rc.GradCheckpoint, "recompute each layer's activations in backward (less memory, ~30% slower)")
	fs.BoolVar(&rc.Resume, "resume", rc.Resume, "continue from the latest checkpoint in --out")
	fs.Uint64Var(&rc.Seed, "seed", rc.Seed, "seed for LoRA init, dropout, shuffling and the validation split")
	fs.BoolVar(&rc.SkipBad, "skip-bad", rc.SkipBad, "skip malformed data rows (counted) instead of failing")
	fs.IntVar(&rc.Threads, "threads", rc.Threads, "compute threads (0: all cores)")
	fs.StringVar(&rc.BaseDType, "base-dtype", rc.BaseDType, "LoRA: keep the frozen projections as `TYPE` f32, bf16, q8_0 or q4_0 (QLoRA-style; less memory)")
	fs.StringVar(&rc.ChatTemplate, "chat-template", rc.ChatTemplate, "chat template: a .jinja `FILE`, or r1 / qwen for the built-in ones (default: the model's tokenizer_config.json)")
	return fs
}

// targetList is the --target flag: a comma list parsed by
// train.ParseTargets.
type targetList []string

func (l *targetList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *targetList) Set(s string) error {
	t, err := train.ParseTargets(s)
	if err != nil {
		return err
	}
	*l = t
	return nil
}

// parseTrainFlags reads the command line over the defaults or, with
// --config, over the LLaMA-Factory run it names.
func parseTrainFlags(args []string) (rc train.RunConfig, export string, err error) {
	rc = train.DefaultRunConfig()
	var config string
	if err := parseFlags(trainFlags(&rc, &config, &export), args); err != nil {
		return rc, "", err
	}
	if config == "" {
		return rc, export, nil
	}
	rc, notes, err := train.LoadLlamaFactory(config)
	if err != nil {
		return rc, "", err
	}
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	fs := trainFlags(&rc, &config, &export)
	if err := parseFlags(fs, args); err != nil {
		return rc, "", err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			rc.Sets = nil // --data replaces the YAML's datasets
		}
	})
	return rc, export, nil
}

func runTrain(args []string) error {
	rc, export, err := parseTrainFlags(args)
	if err != nil {
		return err
	}
	if rc.Model == "" || (rc.Data == "" && len(rc.Sets) == 0) || (rc.Out == "" && export == "") {
		return usageErrorf("--model, --data and --out are required, or --config with model_name_or_path, dataset and output_dir (see 'ragtune train --help')")
	}
	if err := rc.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	m, _ := train.ParseMode(rc.Mode)
	if rc.BaseDType != "f32" && m != train.ModeLoRA {
		return usageErrorf("--base-dtype %s needs --mode lora (full training updates float32 weights)", rc.BaseDType)
	}
	if export != "" {
		return exportLlamaFactory(rc, export)
	}
	if err := cli.ModelPath(rc.Model); err != nil {
		return err
	}
	if st, err := os.Stat(rc.Model); err == nil && !st.IsDir() && !strings.HasSuffix(rc.Model, ".safetensors") {
		hf := strings.TrimSuffix(filepath.Base(rc.Model), filepath.Ext(rc.Model)) + "-hf"
		return fmt.Errorf("train reads HF model directories, not GGUF files: convert it first with 'ragtune model convert --model %s --out %s', then pass --model %s", rc.Model, hf, hf)
	}
	switch {
	case rc.Resume:
		latest := train.LatestCheckpoint(rc.Out)
		if latest == "" {
			return usageErrorf("--resume: %s has no checkpoint to continue (leave out --resume to start a new run)", rc.Out)
		}
		if rc.ResumeFrom != "" && filepath.Base(rc.ResumeFrom) != filepath.Base(latest) {
			return usageErrorf("resume_from_checkpoint names %s, but the latest checkpoint in %s is %s: ragtune continues only the latest (set resume_from_checkpoint: true)", rc.ResumeFrom, rc.Out, filepath.Base(latest))
		}
	case train.HasCheckpoint(rc.Out) && !rc.Force:
		return usageErrorf("--out %s holds an earlier run's checkpoint: continue it with --resume, or pass --force to start over", rc.Out)
	default:
		if err := cli.OutputDir("--out", rc.Out, rc.Force); err != nil {
			return err
		}
		if rc.Force {
			if err := train.ClearRun(rc.Out); err != nil {
				return fmt.Errorf("clear %s: %w", rc.Out, err)
			}
		}
	}
	if rc.Threads > 0 {
		tensor.SetThreads(rc.Threads)
	}

	// Model, tokenizer and chat template.
	start := time.Now()
	src, cfg, err := qwen2.Open(rc.Model)
	if err != nil {
		return err
	}
	var base *train.ParamSet
	var frozen train.Frozen
	if rc.BaseDType == "f32" {
		base, err = train.LoadBase(src, cfg)
	} else {
		base, frozen, err = train.LoadFrozenBase(src, cfg, rc.BaseDType)
	}
	src.Close()
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(rc.Model)
	if err != nil {
		return fmt.Errorf("train needs the model's tokenizer: %w", err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("the tokenizer has %d tokens but the model only %d embeddings", tok.VocabSize(), cfg.VocabSize)
	}
	tmpl, err := loadTrainTemplate(rc.ChatTemplate, rc.Model, tok)
	if err != nil {
		return err
	}
	render := tmpl.Render

	// Data.
	exs, st, err := rc.ReadData()
	if err != nil {
		return err
	}
	if st.Skipped > 0 {
		fmt.Fprintf(os.Stderr, "skipped %d malformed rows of %d (first: %s)\n", st.Skipped, st.Rows, st.FirstSkip)
	}
	samples, tooLong, err := data.EncodeAll(exs, render, tok, rc.MaxSeq)
	if err != nil {
		return err
	}
	if tooLong > 0 {
		fmt.Fprintf(os.Stderr, "dropped %s whose prompt alone exceeds --max-seq %d\n", plural.Count(tooLong, "example"), rc.MaxSeq)
	}
	trainSet, val := data.Split(samples, rc.ValSplit, rc.Seed)
	if len(trainSet) == 0 {
		return fmt.Errorf("no training examples left in %s", dataName(rc))
	}
	ntok := 0
	for _, s := range trainSet {
		ntok += len(s.Tokens)
	}
	pad := tok.Pad()
	if pad < 0 {
		pad = tok.EOS()
	}
	if pad < 0 {
		pad = 0
	}

	var mdl *train.Model
	if frozen != nil {
		mdl, err = train.NewLoRAModel(cfg, base, frozen, rc.LoRA, nil, rc.Seed)
	} else {
		mdl, err = train.NewModel(cfg, base, m, rc.LoRA, nil, rc.Seed)
	}
	if err != nil {
		return err
	}
	progressOut := progress.ForStderr()
	tr, err := train.NewTrainer(mdl, trainSet, val, train.Options{
		Mode: m, LoRA: rc.LoRA, LR: rc.LR, Epochs: rc.Epochs, MaxSteps: rc.MaxSteps, Batch: rc.Batch, GradAccum: rc.GradAccum,
		Warmup: rc.Warmup, Schedule: rc.Schedule, Beta1: rc.Beta1, Beta2: rc.Beta2, WeightDecay: rc.WeightDecay, Clip: clipFlag(rc.Clip),
		EvalEvery: rc.EvalEvery, EarlyStop: rc.EarlyStop, SaveEvery: rc.SaveEvery, GradCheckpoint: rc.GradCheckpoint,
		Seed: rc.Seed, Pad: int32(pad), OutDir: rc.Out, Resume: rc.Resume, BaseModel: rc.Model, Progress: progressOut,
	})
	if err != nil {
		return err
	}
	tr.Opt.Warmup = rc.WarmupSteps(tr.TotalSteps())
	nparams := len(mdl.Trainable().Data)
	fmt.Fprintf(os.Stderr, "%s: %d layers, hidden %d; %s training of %d parameters (%.2f%% of %d)\n",
		filepath.Base(filepath.Clean(rc.Model)), cfg.NumHiddenLayers, cfg.HiddenSize, m, nparams,
		100*float64(nparams)/float64(train.CountParams(cfg)), train.CountParams(cfg))
	fmt.Fprintf(os.Stderr, "data: %d training examples (%d tokens), %d validation; %d steps; loaded in %.1fs\n",
		len(trainSet), ntok, len(val), tr.TotalSteps(), time.Since(start).Seconds())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := tr.Run(ctx)
	progress.Flush(progressOut)
	if ie := (*train.InterruptedError)(nil); errors.As(err, &ie) {
		if ie.Checkpoint == "" {
			return cli.Interruptedf("stopped before the first training step finished; nothing was saved")
		}
		return cli.Interruptedf("stopped after step %d of %d; the progress is saved in %s.\nContinue with:\n  %s",
			ie.Step, ie.Total, ie.Checkpoint, resumeCommand(args))
	}
	if err != nil {
		return err
	}
	fmt.Printf("trained %d steps in %s: loss %.4f → %.4f", res.Steps, res.Elapsed.Round(time.Second), res.FirstLoss, res.LastLoss)
	if !math.IsNaN(res.BestValLoss) {
		fmt.Printf(", validation loss %.4f → %.4f (perplexity %.2f → %.2f)", res.FirstValLoss, res.BestValLoss, math.Exp(res.FirstValLoss), math.Exp(res.BestValLoss))
	}
	fmt.Printf("\n%d tokens, %.0f tokens/s; output in %s\n", res.Tokens, float64(res.Tokens)/res.Elapsed.Seconds(), rc.Out)
	return nil
}

func dataName(rc train.RunConfig) string {
	if len(rc.Sets) == 0 {
		return rc.Data
	}
	names := make([]string, len(rc.Sets))
	for i, s := range rc.Sets {
		names[i] = s.Name
	}
	return "dataset " + strings.Join(names, ",")
}

// resumeCommand is the command line that continues an interrupted run:
// the same arguments with --resume (and without --force, which would
// start over).
func resumeCommand(args []string) string {
	parts := []string{"ragtune", "train"}
	resume := false
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "force", "force=true":
			continue
		case "resume", "resume=true":
			resume = true
		}
		parts = append(parts, shellQuote(a))
	}
	if !resume {
		parts = append(parts, "--resume")
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// exportLlamaFactory writes the run for LLaMA-Factory instead of training.
func exportLlamaFactory(rc train.RunConfig, dir string) error {
	if err := cli.OutputDir("--export-llamafactory", dir, rc.Force); err != nil {
		return err
	}
	exs, st, err := rc.ReadData()
	if err != nil {
		return err
	}
	if st.Skipped > 0 {
		fmt.Fprintf(os.Stderr, "skipped %d malformed rows of %d (first: %s)\n", st.Skipped, st.Rows, st.FirstSkip)
	}
	notes, err := train.ExportLlamaFactory(dir, rc, exs, train.ModelChatTemplate(rc.Model))
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	fmt.Printf("wrote %s (%s in %s, dataset_info.json, train.yaml)\n", dir, plural.Count(len(exs), "example"), filepath.Join("data", train.ExportDataset+".json"))
	fmt.Printf("on a machine with LLaMA-Factory: cd %s && llamafactory-cli train train.yaml\n", dir)
	return nil
}

// clipFlag maps the CLI's "0 disables" onto Options' "negative disables".
func clipFlag(c float64) float64 {
	if c <= 0 {
		return -1
	}
	return c
}

// loadTrainTemplate picks the chat template: a built-in by name, a .jinja
// file, or the model's own.
func loadTrainTemplate(flagVal, modelDir string, tok *tokenizer.BPE) (*chat.Template, error) {
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
	switch flagVal {
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
	return chat.LoadTemplate(flagVal)
}
