package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"ragtune/eval"
	"ragtune/guard"
	"ragtune/internal/cli"
	"ragtune/rag"
)

func init() {
	registerSub("eval", "run", "evaluation suites (overfit, forgetting, robustness, hallucination, safety) → report.json + report.html", runEvalSuites)
	registerSub("eval", "perplexity", "perplexity of a model on a text file (sliding window)", runEvalPerplexity)
	// "ragtune eval --model M ..." runs the suites.
	groupDefault["eval"] = "run"
}

const evalDescription = `
Runs evaluation suites on a model and writes DIR/report.json (schema
ragtune.eval.report/v1, documented in package eval's Report type) and a
self-contained DIR/report.html (inline SVG charts, no network).

Suites (--suite all or a comma-separated list):
  overfit        train vs held-out answer perplexity and BLEU/ROUGE/EM/F1 of
                 greedy answers; data rows carry "split": "train"|"validation"
  forgetting     the same general-knowledge items on --base and on the model:
                 perplexity ratio and right→wrong flips (skipped without --base)
  robustness     typos, full/half width, punctuation, an irrelevant prefix,
                 number formats (3/三/three), paraphrases: answer agreement,
                 ROUGE-L against the clean answer, accuracy drop
  hallucination  closed-book EM/F1, and with retrieval (--kb, or the built-in
                 passages with the built-in questions): citation validity and
                 the share of answer sentences no passage supports
  safety         guard's probe prompts: unsafe-output, refusal and
                 over-refusal rates (--data takes a probes JSONL)

Data files (--data suite=FILE, repeatable) are JSON Lines with "question" and
"answers" (alpaca "instruction"/"output" work too), plus "split" for overfit
and optional "choices" for forgetting; see 'go doc ragtune/eval Item'.
Without --data each suite uses its built-in Chinese+English set.

Answers are greedy (--temperature 0) and bounded by --max-tokens.

Examples:
  ragtune eval run --model ./tuned --base ./r1-1.5b --suite all --out report/
  ragtune eval run --model ./r1-1.5b --adapter ./lora --suite overfit,robustness \
      --data overfit=my_sft.jsonl --limit 20 --no-think --out report/
  ragtune eval run --model ./tuned --kb docs --suite hallucination --data hallucination=qa.jsonl --out r/
  ragtune eval run --backend http://gpu-box:8000 --backend-model my-sft --suite robustness,hallucination --out r/`

// evalGenFlags are the generation flags eval and compare share.
type evalGenFlags struct {
	maxTokens   int
	temperature float64
	seed        int64
	noThink     bool
	ctx         int
}

func addEvalGenFlags(fs *flag.FlagSet) *evalGenFlags {
	g := &evalGenFlags{}
	fs.IntVar(&g.maxTokens, "max-tokens", 128, "generate at most `N` tokens per answer, reasoning included")
	fs.Float64Var(&g.temperature, "temperature", 0, "sampling temperature `T` (0: greedy)")
	fs.Int64Var(&g.seed, "seed", 0, "sampling seed `N`")
	fs.BoolVar(&g.noThink, "no-think", false, "ask a reasoning model to answer without thinking")
	fs.IntVar(&g.ctx, "ctx", 0, "context size in tokens `N` (default min(model maximum, 4096))")
	return g
}

func (g *evalGenFlags) options() (eval.GenOptions, error) {
	if g.maxTokens <= 0 {
		return eval.GenOptions{}, usageErrorf("--max-tokens must be positive")
	}
	var c cli.Checks
	c.NonNegative("--temperature", g.temperature)
	c.MinInt("--ctx", g.ctx, 0)
	if err := c.Err(); err != nil {
		return eval.GenOptions{}, err
	}
	return eval.GenOptions{MaxTokens: g.maxTokens, Temperature: g.temperature, Seed: g.seed, DisableThinking: g.noThink}, nil
}

// openKBRetriever opens --kb read-only; ("", nil) when no --kb was given.
func openKBRetriever(root, name, modeName string) (eval.Retriever, func(), error) {
	if name == "" {
		return nil, func() {}, nil
	}
	dir, err := rag.KBDir(root, name)
	if err != nil {
		return nil, nil, err
	}
	r, err := eval.OpenStoreRetriever(dir, modeName)
	if err != nil {
		return nil, nil, rag.KBOpenError(err, name)
	}
	return r, func() { r.Store.Close() }, nil
}

func runEvalSuites(args []string) error {
	return evalSuites(args, os.Stdout, os.Stderr)
}

func evalSuites(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval run", "--model DIR|FILE.gguf [--adapter DIR] [--base DIR|FILE.gguf] [--suite all|LIST] --out DIR [flags]", evalDescription)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model under test: HF `DIR` or GGUF file (required unless --backend)")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR` merged into --model on load")
	base := fs.String("base", "", "model before fine-tuning (`DIR` or GGUF), for the forgetting suite")
	suiteList := fs.String("suite", "all", "suites to run: all, or a comma-separated `LIST` of overfit, forgetting, robustness, hallucination, safety")
	out := fs.String("out", "", "write report.json and report.html into `DIR` (required)")
	data := eval.SuiteData{}
	fs.Var(data, "data", "use `SUITE=FILE` instead of the suite's built-in data (repeatable)")
	limit := fs.Int("limit", 0, "at most `N` items per suite (0: all)")
	topK := fs.Int("top-k", 3, "`N` passages retrieved per question (hallucination)")
	modeName := fs.String("mode", "bm25", "retrieval `MODE` for --kb: bm25, dense or hybrid")
	rr := rerankFlags(fs)
	trainLog := fs.String("train-log", "", "training log `FILE` (train_log.jsonl) to plot the loss curve from")
	policy := fs.String("policy", "", "guard policy JSON `FILE` for the safety suite (default: built-in)")
	rightF1 := fs.Float64("right-f1", 50, "an answer is right when its F1 (0-100) against the references reaches `X`")
	support := fs.Float64("support", 0.5, "a sentence is supported when this `FRACTION` of its terms (Chinese character pairs, other words) is in a passage")
	kbName, kbRoot := kbFlags(fs)
	g := addEvalGenFlags(fs)
	backend := addBackendFlags(fs, "", "instead of --model (the model under test; scored on its answers, perplexity needs local weights)")
	baseBackend := addBackendFlags(fs, "base-", "instead of --base")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q (flags only)", fs.Args())
	}
	if err := backend.check("model", *modelPath, "adapter"); err != nil {
		return err
	}
	if err := baseBackend.check("base", *base); err != nil {
		return err
	}
	if *modelPath == "" && backend.url == "" {
		return usageErrorf("--model is required (an HF model directory or a .gguf file), or --backend URL for a remote server")
	}
	if *out == "" {
		return usageErrorf("--out DIR is required: the report is written there")
	}
	suites, err := eval.ParseSuites(*suiteList)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if *limit < 0 || *topK <= 0 {
		return usageErrorf("--limit must be >= 0 and --top-k positive")
	}
	if *support <= 0 || *support > 1 || *rightF1 <= 0 || *rightF1 > 100 {
		return usageErrorf("--support must be in (0, 1] and --right-f1 in (0, 100]")
	}
	gen, err := g.options()
	if err != nil {
		return err
	}
	var pol *guard.Policy
	if *policy != "" {
		if pol, err = guard.LoadPolicy(*policy); err != nil {
			return err
		}
	}
	retr, closeKB, err := openKBRetriever(*kbRoot, *kbName, *modeName)
	if err == nil {
		retr, err = withRerank(retr, rr)
	}
	if err != nil {
		return err
	}
	defer closeKB()

	// "tuned" only when there is something it was tuned from.
	label := "model"
	if *adapter != "" || *base != "" || baseBackend.url != "" {
		label = "tuned"
	}
	m, err := backend.evalModelOr(label, *modelPath, *adapter, g.ctx, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	var bm *eval.Model
	if *base != "" || baseBackend.url != "" {
		for _, s := range suites {
			if s == eval.SuiteForgetting {
				if bm, err = baseBackend.evalModelOr("base", *base, "", g.ctx, stderr); err != nil {
					return err
				}
				defer bm.Close()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := eval.RunSuites(ctx, eval.SuiteConfig{
		Model: m, Base: bm, Suites: suites, Data: data, Retriever: retr, KBName: *kbName, TopK: *topK,
		Limit: *limit, Gen: gen, Threshold: eval.Thresholds{RightF1: *rightF1, Support: *support},
		Policy: pol, TrainLog: *trainLog, Progress: stderr,
	})
	if err != nil {
		return err
	}
	if err := eval.WriteReport(*out, rep); err != nil {
		return err
	}
	rep.WriteSummary(stdout)
	fmt.Fprintf(stdout, "report: %s, %s\n", filepath.Join(*out, "report.json"), filepath.Join(*out, "report.html"))
	return nil
}

const perplexityDescription = `
Tokenizes a text file (with the tokenizer's BOS) and reports its perplexity
under the model: exp of the mean negative log-likelihood of every token after
the first. Texts longer than --window run as sliding windows starting every
--stride tokens, as in Hugging Face's "Perplexity of fixed-length models":
each token is scored once, with at least window-stride tokens of context
after the first window. --stride equal to --window gives disjoint chunks.

A .jsonl --file holds one sample per line (a JSON string or an object with
"text"); each sample is scored from its own first token, and the report adds
the mean and median of the per-sample perplexities to the token-weighted one.

Works on HF directories and GGUF files (F32/F16/BF16/Q8_0/Q4_0), so the
perplexity change of a quantization can be read off two runs.

Examples:
  ragtune eval perplexity --model ./r1-1.5b --file wiki.txt
  ragtune eval perplexity --model ./r1-1.5b-q4_0.gguf --file wiki.txt --window 512 --stride 256 --json`

func runEvalPerplexity(args []string) error {
	return evalPerplexity(args, os.Stdout, os.Stderr)
}

func evalPerplexity(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval perplexity", "--model DIR|FILE.gguf --file TEXT [--window N --stride S] [--json]", perplexityDescription)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model: HF `DIR` or GGUF file (required)")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR` merged on load")
	file := fs.String("file", "", "UTF-8 text `FILE` to score (\"-\" reads stdin)")
	window := fs.Int("window", 1024, "tokens of context per forward pass `N` (capped at the model's maximum)")
	stride := fs.Int("stride", 0, "start a window every `S` tokens (default window/2)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *file == "" {
		return usageErrorf("--model and --file are required")
	}
	if *window < 2 {
		return usageErrorf("--window must be at least 2")
	}
	if *stride == 0 {
		*stride = max(1, *window/2)
	}
	if *stride < 1 || *stride > *window {
		return usageErrorf("--stride must be between 1 and --window (%d)", *window)
	}
	o, err := eval.PerplexityOfFile(*modelPath, *adapter, *file, *window, *stride, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		return o.WriteJSON(stdout)
	}
	o.WriteText(stdout)
	return nil
}
