package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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

func runTrain(args []string) error {
	fs := newFlagSet("train", "--model DIR --data FILE --out DIR [flags]", `
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
--save-every, checkpoints that --resume continues exactly. Ctrl-C saves a
checkpoint (with --save-every) and stops.

Examples:
  ragtune train --model ./r1-1.5b --data qa.jsonl --out lora/ --epochs 2 --save-every 100
  ragtune train --model ./r1-1.5b --data qa.jsonl --out lora/ --save-every 100 --resume
  ragtune train --model ./small-model --data corpus.txt --mode full --max-steps 200 --out pretrained/`)
	modelDir := fs.String("model", "", "base model: an HF model directory (config.json, safetensors, tokenizer files)")
	dataPath := fs.String("data", "", "training data: .json/.jsonl rows (alpaca, messages/sharegpt, medical-o1, or {\"text\": ...} for plain-text pre-training), or a .txt/.md file (one pre-training document)")
	out := fs.String("out", "", "output directory (adapter or model, logs, checkpoints)")
	mode := fs.String("mode", "lora", "lora or full")
	r := fs.Int("lora-r", 16, "LoRA rank")
	alpha := fs.Float64("lora-alpha", 16, "LoRA alpha (scale = alpha/r)")
	dropout := fs.Float64("lora-dropout", 0.05, "dropout on the LoRA input path")
	targets := fs.String("target", "q,k,v,o,gate,up,down", "LoRA target projections, comma-separated")
	rslora := fs.Bool("rslora", false, "rank-stabilized LoRA: scale = alpha/sqrt(r)")
	lr := fs.Float64("lr", 2e-4, "peak learning rate")
	epochs := fs.Int("epochs", 1, "passes over the training data")
	maxSteps := fs.Int("max-steps", 0, "stop after this many optimizer steps (overrides --epochs)")
	batch := fs.Int("batch", 1, "sequences per micro-batch")
	accum := fs.Int("grad-accum", 1, "micro-batches per optimizer step (gradient accumulation)")
	maxSeq := fs.Int("max-seq", 512, "maximum tokens per example (longer ones are cut at the end)")
	warmup := fs.Int("warmup", 0, "linear warmup steps")
	schedule := fs.String("schedule", "cosine", "learning-rate schedule after warmup: cosine, linear or constant")
	wd := fs.Float64("weight-decay", 0, "AdamW decoupled weight decay (not applied to biases and norms)")
	beta1 := fs.Float64("beta1", 0.9, "AdamW beta1")
	beta2 := fs.Float64("beta2", 0.999, "AdamW beta2")
	clip := fs.Float64("clip", 1.0, "clip the global gradient norm to this (0 disables)")
	valSplit := fs.Float64("val-split", 0.05, "fraction of examples held out for validation (0: none)")
	evalEvery := fs.Int("eval-every", 0, "validation loss every N steps (0: at the end only)")
	earlyStop := fs.Int("early-stop", 0, "stop after N evaluations without improvement, keeping the best weights")
	saveEvery := fs.Int("save-every", 0, "checkpoint every N steps (needed for --resume)")
	gradCkpt := fs.Bool("grad-checkpoint", false, "recompute each layer's activations in backward (less memory, ~30% slower)")
	resume := fs.Bool("resume", false, "continue from the latest checkpoint in --out")
	seed := fs.Uint64("seed", 42, "seed for LoRA init, dropout, shuffling and the validation split")
	skipBad := fs.Bool("skip-bad", false, "skip malformed data rows (counted) instead of failing")
	threads := fs.Int("threads", 0, "compute threads (0: all cores)")
	baseDType := fs.String("base-dtype", "f32", "LoRA: keep the frozen projections as f32, bf16, q8_0 or q4_0 (QLoRA-style; less memory)")
	tmplFlag := fs.String("chat-template", "", "chat template: a .jinja file, or r1 / qwen for the built-in ones (default: the model's tokenizer_config.json)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelDir == "" || *dataPath == "" || *out == "" {
		return usageErrorf("--model, --data and --out are required (see 'ragtune train --help')")
	}
	m, err := train.ParseMode(*mode)
	if err != nil {
		return usageErrorf("--mode: %v", err)
	}
	if err := train.ParseSchedule(*schedule); err != nil {
		return usageErrorf("--schedule: %v", err)
	}
	if *batch < 1 || *accum < 1 || *maxSeq < 2 || *epochs < 1 || *maxSteps < 0 || *valSplit < 0 || *valSplit >= 1 {
		return usageErrorf("--batch, --grad-accum, --epochs must be >= 1, --max-seq >= 2, --val-split in [0, 1)")
	}
	lc := train.LoRAConfig{R: *r, Alpha: *alpha, Dropout: *dropout, RSLoRA: *rslora}
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			lc.Targets = append(lc.Targets, t)
		}
	}
	if m == train.ModeLoRA {
		if err := lc.Validate(); err != nil {
			return usageErrorf("%v", err)
		}
	}
	if *threads > 0 {
		tensor.SetThreads(*threads)
	}

	// Model, tokenizer and chat template.
	start := time.Now()
	src, cfg, err := qwen2.Open(*modelDir)
	if err != nil {
		return err
	}
	var base *train.ParamSet
	var frozen train.Frozen
	switch {
	case *baseDType == "f32":
		base, err = train.LoadBase(src, cfg)
	case m == train.ModeLoRA:
		base, frozen, err = train.LoadFrozenBase(src, cfg, *baseDType)
	default:
		err = usageErrorf("--base-dtype %s needs --mode lora (full training updates float32 weights)", *baseDType)
	}
	src.Close()
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(*modelDir)
	if err != nil {
		return fmt.Errorf("train needs the model's tokenizer: %w", err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("the tokenizer has %d tokens but the model only %d embeddings", tok.VocabSize(), cfg.VocabSize)
	}
	tmpl, err := loadTrainTemplate(*tmplFlag, *modelDir, tok)
	if err != nil {
		return err
	}
	render := tmpl.Render

	// Data.
	exs, st, err := data.ReadFile(*dataPath, *skipBad)
	if err != nil {
		return err
	}
	if st.Skipped > 0 {
		fmt.Fprintf(os.Stderr, "skipped %d malformed rows of %d (first: %s)\n", st.Skipped, st.Rows, st.FirstSkip)
	}
	samples, tooLong, err := data.EncodeAll(exs, render, tok, *maxSeq)
	if err != nil {
		return err
	}
	if tooLong > 0 {
		fmt.Fprintf(os.Stderr, "dropped %d examples whose prompt alone exceeds --max-seq %d\n", tooLong, *maxSeq)
	}
	trainSet, val := data.Split(samples, *valSplit, *seed)
	if len(trainSet) == 0 {
		return fmt.Errorf("no training examples left in %s", *dataPath)
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
		mdl, err = train.NewLoRAModel(cfg, base, frozen, lc, nil, *seed)
	} else {
		mdl, err = train.NewModel(cfg, base, m, lc, nil, *seed)
	}
	if err != nil {
		return err
	}
	tr, err := train.NewTrainer(mdl, trainSet, val, train.Options{
		Mode: m, LoRA: lc, LR: *lr, Epochs: *epochs, MaxSteps: *maxSteps, Batch: *batch, GradAccum: *accum,
		Warmup: *warmup, Schedule: *schedule, Beta1: *beta1, Beta2: *beta2, WeightDecay: *wd, Clip: clipFlag(*clip),
		EvalEvery: *evalEvery, EarlyStop: *earlyStop, SaveEvery: *saveEvery, GradCheckpoint: *gradCkpt,
		Seed: *seed, Pad: int32(pad), OutDir: *out, Resume: *resume, BaseModel: *modelDir, Progress: os.Stderr,
	})
	if err != nil {
		return err
	}
	nparams := len(mdl.Trainable().Data)
	fmt.Fprintf(os.Stderr, "%s: %d layers, hidden %d; %s training of %d parameters (%.2f%% of %d)\n",
		filepath.Base(filepath.Clean(*modelDir)), cfg.NumHiddenLayers, cfg.HiddenSize, m, nparams,
		100*float64(nparams)/float64(train.CountParams(cfg)), train.CountParams(cfg))
	fmt.Fprintf(os.Stderr, "data: %d training examples (%d tokens), %d validation; %d steps; loaded in %.1fs\n",
		len(trainSet), ntok, len(val), tr.TotalSteps(), time.Since(start).Seconds())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := tr.Run(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) && *saveEvery > 0 {
			return fmt.Errorf("%w; a checkpoint was saved: continue with --resume", err)
		}
		return err
	}
	fmt.Printf("trained %d steps in %s: loss %.4f → %.4f", res.Steps, res.Elapsed.Round(time.Second), res.FirstLoss, res.LastLoss)
	if !math.IsNaN(res.BestValLoss) {
		fmt.Printf(", validation loss %.4f → %.4f (perplexity %.2f → %.2f)", res.FirstValLoss, res.BestValLoss, math.Exp(res.FirstValLoss), math.Exp(res.BestValLoss))
	}
	fmt.Printf("\n%d tokens, %.0f tokens/s; output in %s\n", res.Tokens, float64(res.Tokens)/res.Elapsed.Seconds(), *out)
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
