package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"ragtune/eval"
	"ragtune/internal/cli"
)

func init() {
	register(&command{name: "compare", summary: "base vs fine-tuned vs base+RAG vs fine-tuned+RAG on your data: quality, latency, memory", run: runCompare})
}

const compareDescription = `
Answers the same questions with every variant — the base model, the
fine-tuned model (--tuned, or --base with --adapter), and each of them with
retrieval from a knowledge base — and lays them side by side: EM, F1, BLEU,
ROUGE-L, answer-only perplexity of the references, median latency per answer
(and the milliseconds retrieval adds), the grounding of RAG answers, the
model file size and the peak resident memory while each model ran.

Retrieval: --kb NAME searches a knowledge base built with 'ragtune ingest';
without --kb and without --data, the built-in questions run against their
built-in passages; with --data but no --kb only the closed-book rows run.
The RAG prompt numbers the top-k passages in fenced blocks and asks the model
to cite them as [n].

--data is JSON Lines with "question" and "answers" (alpaca "instruction" and
"output" also work). Writes DIR/report.json, DIR/report.html and prints the
table.

Either side may be an OpenAI-compatible server instead of a local model
(vLLM, Ollama, another 'ragtune serve'): --base-backend URL and
--tuned-backend URL, each with its --…-backend-model NAME; --backend-key
(or RAGTUNE_BACKEND_API_KEY) is sent to both. A remote side is scored on
its answers only: perplexity needs local weights.

Examples:
  ragtune compare --base ./r1-1.5b --adapter ./lora --kb docs --data qa.jsonl --out cmp/
  ragtune compare --base ./r1-1.5b --tuned ./merged --kb docs --data qa.jsonl --out cmp/ --no-think
  ragtune compare --base ./r1-1.5b --tuned-backend http://gpu-box:8000 --tuned-backend-model my-sft --kb docs --out cmp/`

func runCompare(args []string) error { return compare(args, os.Stdout, os.Stderr) }

func compare(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", "--base M|--base-backend URL [--tuned M|--tuned-backend URL] [--adapter A] [--kb NAME] [--data FILE] --out DIR [flags]", compareDescription)
	fs.SetOutput(stderr)
	base := fs.String("base", "", "base model: HF `DIR` or GGUF file (required unless --base-backend)")
	tuned := fs.String("tuned", "", "fine-tuned model `DIR` or GGUF (default: --base with --adapter)")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR` for the fine-tuned variant")
	dataPath := fs.String("data", "", "questions with reference answers, JSONL `FILE` (default: built-in set)")
	out := fs.String("out", "", "write report.json and report.html into `DIR` (required)")
	limit := fs.Int("limit", 0, "at most `N` questions (0: all)")
	topK := fs.Int("top-k", 3, "passages per question in the RAG prompt")
	modeName := fs.String("mode", "bm25", "retrieval `MODE` for --kb: bm25, dense or hybrid")
	kbName, kbRoot := kbFlags(fs)
	rr := rerankFlags(fs)
	g := addEvalGenFlags(fs)
	baseBackend := addBackendFlags(fs, "base-", "instead of --base")
	tunedBackend := addBackendFlags(fs, "tuned-", "instead of --tuned")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q (flags only)", fs.Args())
	}
	if (*base == "" && baseBackend.url == "") || *out == "" {
		return usageErrorf("--base (or --base-backend) and --out are required")
	}
	// --adapter tunes --tuned, or without it --base: a backend takes none.
	adapterOn := baseBackend
	if *tuned != "" || tunedBackend.url != "" {
		adapterOn = tunedBackend
	}
	for _, b := range []*backendFlags{baseBackend, tunedBackend} {
		model, localOnly := *base, []string{}
		if b == tunedBackend {
			model = *tuned
		}
		if b == adapterOn {
			localOnly = append(localOnly, "adapter")
		}
		if err := b.check(strings.TrimSuffix(b.prefix, "-"), model, localOnly...); err != nil {
			return err
		}
	}
	if *limit < 0 || *topK <= 0 {
		return usageErrorf("--limit must be >= 0 and --top-k positive")
	}
	gen, err := g.options()
	if err != nil {
		return err
	}
	for _, m := range []string{*base, *tuned} {
		if m != "" {
			if err := cli.ModelPath(m); err != nil {
				return err
			}
		}
	}
	items, err := eval.CompareItems(*dataPath, *limit)
	if err != nil {
		return err
	}
	retr, closeKB, err := openKBRetriever(*kbRoot, *kbName, *modeName)
	if err == nil {
		retr, err = withRerank(retr, rr)
	}
	if err != nil {
		return err
	}
	defer closeKB()
	if retr == nil && *dataPath == "" {
		if retr, err = eval.DefaultRetriever(); err != nil {
			return err
		}
	}
	if retr == nil {
		fmt.Fprintln(stderr, "no --kb: only the closed-book variants run")
	}
	open := func(label, path, adapter string, b *backendFlags) eval.CompareModel {
		return eval.CompareModel{Label: label, Open: func() (*eval.Model, error) {
			return b.evalModelOr(label, path, adapter, g.ctx, stderr)
		}}
	}
	models := []eval.CompareModel{open("base", *base, "", baseBackend)}
	switch {
	case *tuned != "" || tunedBackend.url != "":
		models = append(models, open("tuned", *tuned, *adapter, tunedBackend))
	case *adapter != "":
		models = append(models, open("tuned", *base, *adapter, baseBackend))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := eval.RunCompare(ctx, eval.CompareConfig{
		Models: models, Items: items, Retriever: retr, KBName: *kbName, DataPath: *dataPath, TopK: *topK,
		Gen: gen, Progress: stderr,
	})
	if err != nil {
		return err
	}
	rep.Settings.Limit = *limit
	if err := eval.WriteReport(*out, rep); err != nil {
		return err
	}
	if err := eval.WriteCompareTable(stdout, rep.Compare); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s, %s\n", filepath.Join(*out, "report.json"), filepath.Join(*out, "report.html"))
	return nil
}
