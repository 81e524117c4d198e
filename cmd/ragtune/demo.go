package main

import (
	"fmt"
	"os"

	"ragtune/demo"
)

func init() {
	register(&command{name: "demo", summary: "the whole loop on embedded data: pre-train, fine-tune, quantize, evaluate, RAG, report", run: runDemo})
}

const demoDescription = `
Runs the whole life of a domain model on data that ships inside ragtune (a
small Chinese/English knowledge base on how large models are pre-trained,
fine-tuned, quantized, evaluated and augmented with retrieval, its QA pairs,
and a general-knowledge set), in about 20 s on 2 cores (--quick: about 5 s):

  1 data       write the corpus, pre-training text and QA splits (20% of the
               QA pairs held out, never trained on) into --workdir
  2 tokenizer  train a byte-level BPE vocabulary with R1's special tokens
  3 init       a small Qwen2-architecture model (GQA, q/k/v bias, SwiGLU)
  4 pre-train  full-parameter training from scratch on the plain text
  5 fine-tune  LoRA on the training QA pairs
  6 quantize   merge the adapter, write a Q8_0 GGUF, measure the
               perplexity change
  7 ingest     build a knowledge base from the corpus
  8 RAG        answer held-out questions with retrieved, cited passages and
               check each citation's source file against the QA's source
  9 compare    base / fine-tuned / base+RAG / fine-tuned+RAG: answer-only
               perplexity of the held-out references, BLEU, ROUGE, latency,
               and forgetting on the general set → report.json, report.html

Every step runs the same code as the individual command it prints ("$
ragtune train ..."), so the printed lines can be rerun by hand on the
files in --workdir. The model is tiny and trained for minutes: its answers
are poor, and the summary reports the measured numbers as they are.

Each run starts fresh: a --workdir left by an earlier demo (it holds a
.ragtune-demo marker) is emptied first; any other non-empty folder is
refused. The same --seed gives the same numbers on the same machine.`

func runDemo(args []string) error {
	fs := newFlagSet("demo", "[--workdir DIR] [--quick] [--seed N]", demoDescription)
	workdir := fs.String("workdir", "ragtune-demo", "folder for every artifact of the run (emptied if an earlier demo left it)")
	quick := fs.Bool("quick", false, "a smaller model and fewer steps (about 5 s on 2 cores; for tests)")
	seed := fs.Uint64("seed", 42, "seed for the weights, the QA split, shuffling and LoRA (the tokenizer is deterministic)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (see 'ragtune demo --help')", fs.Arg(0))
	}
	sum, err := demo.Run(demo.Options{Workdir: *workdir, Quick: *quick, Seed: *seed, Log: os.Stderr, Command: runCommandLine})
	if err != nil {
		return err
	}
	return sum.Print(os.Stdout)
}

// runCommandLine runs a registered command exactly as the command line
// would; the demo runs every step through it.
func runCommandLine(args []string) error {
	c, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("demo: command %q is not in this build", args[0])
	}
	return c.Run(args[1:])
}
