package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
	"ragtune/internal/progress"
	"ragtune/tensor"
	"ragtune/train"
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
	fs.Var((*train.TargetList)(&rc.LoRA.Targets), "target", "LoRA target projections: a comma-separated `LIST` of q,k,v,o,gate,up,down (or all; q_proj also works)")
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
	if m, _ := train.ParseMode(rc.Mode); rc.BaseDType != "f32" && m != train.ModeLoRA {
		return usageErrorf("--base-dtype %s needs --mode lora (full training updates float32 weights)", rc.BaseDType)
	}
	if export != "" {
		n, err := train.ExportRun(rc, export, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s in %s, dataset_info.json, train.yaml)\n", export, plural.Count(n, "example"), filepath.Join("data", train.ExportDataset+".json"))
		fmt.Printf("on a machine with LLaMA-Factory: cd %s && llamafactory-cli train train.yaml\n", export)
		return nil
	}
	if err := cli.ModelPath(rc.Model); err != nil {
		return err
	}
	if err := rc.CheckOut(); err != nil {
		return err
	}
	if rc.Threads > 0 {
		tensor.SetThreads(rc.Threads)
	}

	progressOut := progress.ForStderr()
	run, err := train.Prepare(rc, progressOut, os.Stderr)
	if err != nil {
		return err
	}
	run.WriteSummary(os.Stderr, rc.Model)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run.Trainer.Run(ctx)
	progress.Flush(progressOut)
	if ie := (*train.InterruptedError)(nil); errors.As(err, &ie) {
		if ie.Checkpoint == "" {
			return cli.Interruptedf("stopped before the first training step finished; nothing was saved")
		}
		return cli.Interruptedf("stopped after step %d of %d; the progress is saved in %s.\nContinue with:\n  %s",
			ie.Step, ie.Total, ie.Checkpoint, train.ResumeCommand(args))
	}
	if err != nil {
		return err
	}
	res.WriteSummary(os.Stdout, rc.Out)
	return nil
}
