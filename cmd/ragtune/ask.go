package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"ragtune/eval"
	"ragtune/index"
	"ragtune/internal/cli"
	"ragtune/llm"
	"ragtune/rag"
)

func init() {
	register(&command{name: "ask", summary: "search a knowledge base and show the best chunks with sources; answer from them with --model", run: func(args []string) error {
		return askCmd(args, os.Stdout, os.Stderr)
	}})
}

const askDescription = `
Retrieves the chunks of a knowledge base that best match QUESTION and prints
them ranked, with scores, source files and positions. Dense and hybrid modes
need a knowledge base ingested with --embed-path or --embed-url.

With --model (an HF directory or a GGUF file, loaded as 'ragtune run' loads
it; --adapter merges a LoRA adapter on load) the model then answers QUESTION
from those chunks alone, numbered [1]..[K] in the grounded prompt that
'ragtune compare' scores, greedily and without reasoning, streaming the
answer as it is written. A sources list follows, mapping each [n] the answer
cites to its file and character span; ask says so when the answer cites no
passage, or cites numbers that are not passages. With --json and --model the
output is one object (question, results, answer, citations, sources) instead
of the list of chunks. --backend URL answers with an OpenAI-compatible
server instead of --model (see 'ragtune run --help').

Examples:
  ragtune ask --kb med "二甲双胍的禁忌症有哪些？"
  ragtune ask --kb med --model ./r1-1.5b --top-k 3 "二甲双胍的禁忌症有哪些？"
  ragtune ask --kb med --model r1-q4_0.gguf --json "What does Q8_0 store?"
  ragtune ask --kb med --backend http://127.0.0.1:8000 --backend-model deepseek-r1 "二甲双胍的禁忌症有哪些？"`

func askCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ask", "--kb NAME [--top-k K] [--mode bm25|dense|hybrid] [--model DIR|FILE.gguf [--adapter DIR] | --backend URL] QUESTION", askDescription)
	fs.SetOutput(stderr)
	name, root := kbFlags(fs)
	topK := fs.Int("top-k", 5, "number of chunks")
	modeName := fs.String("mode", "bm25", "retrieval `MODE`: bm25, dense or hybrid")
	fusion := fs.String("fusion", "rrf", "hybrid `FUSION`: rrf or relative")
	source := fs.String("source", "", "only chunks of files under this `path`")
	asJSON := fs.Bool("json", false, "print JSON")
	modelPath := fs.String("model", "", "answer from the chunks with this model: HF `DIR` or GGUF file (default: retrieval only)")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR` merged into --model on load")
	maxTokens := fs.Int("max-tokens", 512, "answer at most `N` tokens (0: until the context is full)")
	ctxSize := fs.Int("ctx", 0, "context size in tokens `N`, prompt and answer together (default min(model maximum, 4096))")
	backend := addBackendFlags(fs, "", "instead of --model to answer")
	rr := rerankFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := rag.KBDir(*root, *name)
	if err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" {
		return usageErrorf("ask needs a QUESTION")
	}
	if *topK <= 0 {
		return usageErrorf("--top-k must be positive")
	}
	mode, err := rag.ParseMode(*modeName)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if *fusion != string(rag.FusionRRF) && *fusion != string(rag.FusionRelative) {
		return usageErrorf("--fusion must be rrf or relative, got %q", *fusion)
	}
	if err := backend.check("model", *modelPath, "adapter", "ctx"); err != nil {
		return err
	}
	if *modelPath == "" && *adapter != "" {
		return usageErrorf("--adapter needs --model (the model the adapter was trained on)")
	}
	if *maxTokens < 0 || *ctxSize < 0 {
		return usageErrorf("--max-tokens and --ctx must be >= 0")
	}
	rcfg, err := rr.Config()
	if err != nil {
		return err
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return rag.KBOpenError(err, *name)
	}
	defer s.Close()
	var filter index.Filter
	if *source != "" {
		filter = rag.SourceUnder(*source)
	}
	q := rag.Query{Text: question, K: *topK, Mode: mode, Filter: filter, Fusion: rag.Fusion(*fusion),
		Rerank: rag.QueryReranker(s, rcfg, *rr.none, os.Stderr)}
	if *modelPath == "" && backend.url == "" {
		res, err := s.Search(context.Background(), q)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, rag.ResultRows(res))
		}
		rag.WriteResults(stdout, res)
		return nil
	}

	// The model loads after the knowledge base opened, so a wrong --kb
	// fails at once instead of after seconds of loading weights.
	var eng llm.Engine
	opts := rag.AnswerOptions{MaxTokens: *maxTokens}
	answeredBy := *modelPath
	if backend.url != "" {
		r, err := backend.open(stderr)
		if err != nil {
			return err
		}
		eng, answeredBy = r.Engine, r.remote.Describe()
	} else {
		m, err := eval.LoadLabeled("model", *modelPath, *adapter, eval.LoadOptions{ContextSize: *ctxSize}, stderr)
		if err != nil {
			return fmt.Errorf("load --model %s: %w", *modelPath, err)
		}
		defer m.Close()
		eng, opts.RawPrompt = m.Engine, m.RawPrompts
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *asJSON {
		ra, err := askAnswer(ctx, s, q, eng, opts)
		if err != nil {
			return err
		}
		return writeJSON(stdout, ra.Report(question, answeredBy, *adapter))
	}
	sw := rag.NewAnswerStream(stdout, "answer:\n")
	opts.OnToken = sw.Token
	// The passages print before generation starts, so a reader has them
	// while a slow model writes.
	opts.OnRetrieved = func(res []rag.Result) error {
		rag.WriteResults(stdout, res)
		return nil
	}
	ra, err := askAnswer(ctx, s, q, eng, opts)
	sw.End()
	if err != nil {
		return err
	}
	if !ra.Answered {
		fmt.Fprintln(stdout, "no answer: nothing was retrieved to ground it in; try other words, --mode hybrid, or drop --source")
		return nil
	}
	if !sw.Started() {
		fmt.Fprint(stdout, "answer:\n")
		fmt.Fprintln(stdout, "(the model wrote no answer)")
	}
	fmt.Fprintln(stdout)
	ra.WriteSources(stdout)
	if ra.Gen != nil {
		fmt.Fprintln(stderr, ra.Gen.Stats())
	}
	return nil
}

// askAnswer runs rag.Answer and turns its errors into advice.
func askAnswer(ctx context.Context, s *rag.Store, q rag.Query, eng llm.Engine, o rag.AnswerOptions) (*rag.AnswerResult, error) {
	ra, err := rag.Answer(ctx, s, q, eng, o)
	switch {
	case errors.Is(err, context.Canceled):
		return nil, cli.Interruptedf("interrupted")
	case errors.Is(err, llm.ErrContextLength):
		return nil, fmt.Errorf("%w; or retrieve fewer chunks (--top-k)", err)
	}
	return ra, err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
