package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"ragtune/eval"
	"ragtune/internal/cli"
	"ragtune/internal/lineedit"
	"ragtune/llm"
	"ragtune/tensor"
	"ragtune/train"
)

func init() {
	register(&command{
		name:    "run",
		summary: "generate a reply to one prompt, streaming it",
		run: func(args []string) error {
			return runRun(args, os.Stdin, os.Stdout, os.Stderr)
		},
	})
}

const runDescription = `
Loads a model (an HF directory or a GGUF file), renders the prompt through
the model's chat template, and streams the answer to stdout as it is
generated. A reasoning model's thinking (<think>…</think>) goes to stderr,
dimmed on a terminal, or inline on stdout with --show-think; --no-think asks
the model to answer directly. Speed figures go to stderr at the end.

With --backend URL instead of --model, an OpenAI-compatible server (vLLM,
Ollama, llama.cpp's server, another 'ragtune serve') generates, and the
output is the same as with a local model; the server applies its chat
template. Keep the key out of shell history with RAGTUNE_BACKEND_API_KEY.

Sampling flags left unset take the model's generation_config.json values
(DeepSeek-R1: temperature 0.6, top-p 0.95), or the server's with
--backend; --temperature 0 is greedy.

Examples:
  ragtune run --model ./r1-1.5b --prompt "什么是灾难性遗忘？"
  echo "Why is the sky blue?" | ragtune run --model ./r1-1.5b --prompt - --no-think
  ragtune run --model model.gguf --raw --prompt "Once upon a time" --max-tokens 64
  ragtune run --backend http://127.0.0.1:8000 --backend-model deepseek-r1 --prompt "你好"`

func runRun(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "--model DIR|FILE.gguf | --backend URL --prompt TEXT [flags]", runDescription)
	fs.SetOutput(stderr)
	g := addGenFlags(fs)
	prompt := fs.String("prompt", "", "the prompt `TEXT` (\"-\" reads stdin; words after the flags also work)")
	system := fs.String("system", "", "system message `TEXT` (R1 recommends none)")
	raw := fs.Bool("raw", false, "send the prompt as raw text, without the chat template")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	text, err := cli.Text("prompt", *prompt, fs.Args(), stdin)
	if err != nil {
		return err
	}
	if text == "" {
		return usageErrorf("no prompt: pass --prompt TEXT (or --prompt - to read stdin)")
	}
	if *raw && *system != "" {
		return usageErrorf("--system needs the chat template; it cannot be combined with --raw")
	}
	if err := g.check(); err != nil {
		return err
	}

	eng, err := g.open(stderr)
	if err != nil {
		return err
	}
	defer eng.close()
	req, err := g.request(eng)
	if err != nil {
		return err
	}
	if *raw {
		req.Prompt = text
	} else {
		if *system != "" {
			req.Messages = append(req.Messages, llm.Message{Role: "system", Content: *system})
		}
		req.Messages = append(req.Messages, llm.Message{Role: "user", Content: text})
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p := llm.NewStreamPrinter(stdout, stderr, g.showThink, lineedit.IsTerminal(stderr))
	res, err := eng.Generate(ctx, req, p.Token)
	p.End()
	if res != nil {
		fmt.Fprintln(stderr, res.Stats())
		warnNoAnswer(stderr, res, g.maxTokens)
	}
	if errors.Is(err, context.Canceled) {
		return cli.Interruptedf("interrupted")
	}
	return err
}

// genFlags are the model and sampling flags that run and chat share.
type genFlags struct {
	fs        *flag.FlagSet
	model     string
	adapter   string
	backend   *backendFlags
	ctx       int
	kvType    string
	maxTokens int
	temp      cli.OptFloat
	topP      cli.OptFloat
	minP      cli.OptFloat
	repeat    cli.OptFloat
	freq      cli.OptFloat
	presence  cli.OptFloat
	topK      cli.OptInt
	seed      cli.OptInt
	stops     stringList
	showThink bool
	noThink   bool
}

func addGenFlags(fs *flag.FlagSet) *genFlags {
	g := &genFlags{fs: fs}
	fs.StringVar(&g.model, "model", "", "model: HF `DIR` or GGUF file (required unless --backend)")
	g.backend = addBackendFlags(fs, "", "instead of --model")
	fs.IntVar(&g.ctx, "ctx", 0, "context size in tokens `N`, prompt and answer together (default min(model maximum, 4096)); KV cache per token: 2 × layers × KV heads × head dim values (1.5B model: 56 KiB at f32, 28 KiB at f16, 15.75 KiB at q8_0; allocated as the sequence grows)")
	fs.StringVar(&g.kvType, "kv-type", llm.DefaultKVType.String(), "KV cache element `TYPE`: "+tensor.KVTypes+" (f16 halves the cache; f32 does not round it)")
	fs.IntVar(&g.maxTokens, "max-tokens", 2048, "generate at most `N` tokens, reasoning included (0: until the context is full)")
	fs.Var(&g.temp, "temperature", "sampling temperature `T`; 0 is greedy (default: the model's)")
	fs.Var(&g.topP, "top-p", "nucleus sampling: keep the most likely tokens up to probability mass `P` (default: the model's)")
	fs.Var(&g.topK, "top-k", "keep only the `K` most likely tokens (default: the model's, usually off)")
	fs.Var(&g.minP, "min-p", "drop tokens less likely than fraction `P` of the most likely one")
	fs.Var(&g.repeat, "repeat-penalty", "repetition penalty `X` (> 1 discourages tokens already present; 1 is off)")
	fs.Var(&g.freq, "frequency-penalty", "OpenAI frequency penalty `X` (per occurrence in the output)")
	fs.Var(&g.presence, "presence-penalty", "OpenAI presence penalty `X` (once per token present in the output)")
	fs.Var(&g.seed, "seed", "random seed `N`, for reproducible sampling (default: random)")
	fs.Var(&g.stops, "stop", "stop string `TEXT`; the answer ends before it (repeatable)")
	fs.BoolVar(&g.showThink, "show-think", false, "print the reasoning inline on stdout, between <think> and </think>")
	fs.BoolVar(&g.noThink, "no-think", false, "ask a reasoning model to answer without thinking (prefills an empty <think></think>)")
	fs.StringVar(&g.adapter, "adapter", "", "PEFT LoRA adapter `DIR` (from 'ragtune train' or PEFT) merged into the weights on load")
	return g
}

func (g *genFlags) check() error {
	if err := g.backend.check("model", g.model, "adapter", "ctx", "kv-type"); err != nil {
		return err
	}
	if g.model == "" && g.backend.url == "" {
		return usageErrorf("--model is required (an HF model directory or a .gguf file; create a test model with 'ragtune model init'), or --backend URL for a remote server")
	}
	if g.ctx < 0 || g.maxTokens < 0 {
		return usageErrorf("--ctx and --max-tokens must be >= 0")
	}
	if g.showThink && g.noThink {
		return usageErrorf("--show-think and --no-think exclude each other")
	}
	if _, err := tensor.ParseKVType(g.kvType); err != nil {
		return usageErrorf("--kv-type: %v", err)
	}
	if err := g.checkSampling(); err != nil {
		return err
	}
	if g.backend.url != "" {
		return nil
	}
	return cli.ModelPath(g.model)
}

// checkSampling validates the sampling flags that were given, before the
// model loads, naming each flag; the model's defaults fill the rest and
// are checked again with them in request.
func (g *genFlags) checkSampling() error {
	var c cli.Checks
	if g.temp.Given {
		c.NonNegative("--temperature", g.temp.V)
	}
	if g.topP.Given {
		c.Range("--top-p", g.topP.V, 0, 1)
	}
	if g.minP.Given {
		c.Range("--min-p", g.minP.V, 0, 1)
	}
	if g.repeat.Given {
		// 0 would divide logits by zero; 1 is off.
		c.Positive("--repeat-penalty", g.repeat.V)
	}
	if g.freq.Given {
		c.Range("--frequency-penalty", g.freq.V, -2, 2)
	}
	if g.presence.Given {
		c.Range("--presence-penalty", g.presence.V, -2, 2)
	}
	if g.topK.Given {
		c.Check(g.topK.V >= 0, "--top-k must be >= 0, not %d", g.topK.V)
	}
	return c.Err()
}

// open loads --model (merging --adapter) or connects to --backend.
func (g *genFlags) open(stderr io.Writer) (*openedEngine, error) {
	if g.backend.url != "" {
		return g.backend.open(stderr)
	}
	t0 := time.Now()
	eng, err := train.LoadLocal(g.model, g.adapter, llm.LoadOptions{LocalOptions: llm.LocalOptions{ContextSize: g.ctx}, KVType: g.kvType})
	if err != nil {
		return nil, err
	}
	if g.adapter != "" {
		fmt.Fprintf(stderr, "merged adapter %s\n", g.adapter)
	}
	fmt.Fprintf(stderr, "loaded %s in %s (context %d tokens)\n", g.model, time.Since(t0).Round(time.Millisecond), eng.ContextSize())
	return &openedEngine{Engine: eng, defaults: eng.DefaultSampling(), close: eng.Close}, nil
}

// request returns a Request with the flags' sampling over the model's
// defaults. A remote backend given no sampling flag gets none, so the
// server's own defaults apply.
func (g *genFlags) request(eng *openedEngine) (llm.Request, error) {
	req := llm.Request{MaxTokens: g.maxTokens, Stop: g.stops, DisableThinking: g.noThink}
	o := llm.SamplingOverride{Temperature: g.temp.Ptr(), TopP: g.topP.Ptr(), MinP: g.minP.Ptr(), RepetitionPenalty: g.repeat.Ptr(),
		FrequencyPenalty: g.freq.Ptr(), PresencePenalty: g.presence.Ptr(), TopK: g.topK.Ptr(), Seed: g.seed.Ptr()}
	if eng.remote != nil && o.Empty() {
		return req, nil
	}
	s, err := o.Apply(eng.defaults)
	if err != nil {
		return llm.Request{}, usageErrorf("%v", err)
	}
	req.Sampling = &s
	return req, nil
}

// warnNoAnswer says on stderr that a reasoning model produced no answer,
// and which flag to change: the exit code stays 0 (the generation worked),
// so this line is the only sign besides an empty stdout.
func warnNoAnswer(w io.Writer, r *llm.Result, maxTokens int) {
	why := r.NoAnswerReason()
	if why == "" {
		return
	}
	fix := "pass --no-think, or ask again"
	if r.FinishReason == llm.FinishLength {
		fix = "raise --max-tokens, or pass --no-think"
		if maxTokens == 0 || r.CompletionTokens < maxTokens {
			fix = "the context is full: raise --ctx, or pass --no-think"
		}
	}
	fmt.Fprintf(w, "warning: %s; %s\n", why, fix)
}

// backendFlags are --backend URL and --backend-model NAME (with a prefix
// where a command has two models: compare's --base-backend), the remote
// alternative to a local model, and the one --backend-key they share.
type backendFlags struct {
	fs                 *flag.FlagSet
	prefix, url, model string
}

func addBackendFlags(fs *flag.FlagSet, prefix, what string) *backendFlags {
	b := &backendFlags{fs: fs, prefix: prefix}
	fs.StringVar(&b.url, prefix+"backend", "", "generate with an OpenAI-compatible server (vLLM, Ollama, 'ragtune serve') at `URL` "+what)
	fs.StringVar(&b.model, prefix+"backend-model", "", "model `NAME` sent to --"+prefix+"backend (default: the server's model when it has one)")
	if fs.Lookup("backend-key") == nil {
		fs.String("backend-key", os.Getenv("RAGTUNE_BACKEND_API_KEY"), "API `KEY` for the backend (default $RAGTUNE_BACKEND_API_KEY, which keeps it out of shell history)")
	}
	return b
}

// check refuses a local model and a backend together (modelFlag names
// the local one), --backend-model without --backend, and with a backend
// the flags that only a local model takes. model "" and no backend is
// left to the caller, whose model flag may be optional.
func (b *backendFlags) check(modelFlag, model string, localOnly ...string) error {
	flagName := "--" + b.prefix + "backend"
	given := map[string]bool{}
	b.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case b.url != "" && model != "":
		return usageErrorf("give one of --%s (a local model) and %s (a remote server), not both", modelFlag, flagName)
	case b.url == "" && given[b.prefix+"backend-model"]:
		return usageErrorf("%s-model needs %s URL", flagName, flagName)
	case b.url == "":
		return nil
	}
	for _, name := range localOnly {
		if given[name] {
			return usageErrorf("--%s applies to a local --%s; the server at %s loads its own model", name, modelFlag, flagName)
		}
	}
	if _, err := llm.NewRemote(llm.RemoteOptions{BaseURL: b.url}); err != nil {
		return usageErrorf("%s: %v", flagName, err)
	}
	return nil
}

// open connects to the backend, failing at once when it is unreachable.
func (b *backendFlags) open(stderr io.Writer) (*openedEngine, error) {
	key := b.fs.Lookup("backend-key").Value.String()
	r, err := llm.ConnectRemote(context.Background(), llm.RemoteOptions{BaseURL: b.url, Model: b.model, APIKey: key})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "generating with %s (model %q)\n", b.url, r.Model())
	return &openedEngine{Engine: r, defaults: r.DefaultSampling(), remote: r, close: func() error { return nil }}, nil
}

// evalModelOr connects the backend as an eval model or, without one,
// loads the local model at path. A backend only generates: the scores
// that need the weights (perplexity) are left out for it.
func (b *backendFlags) evalModelOr(label, path, adapter string, ctx int, stderr io.Writer) (*eval.Model, error) {
	if b.url == "" {
		return eval.LoadLabeled(label, path, adapter, eval.LoadOptions{ContextSize: ctx}, stderr)
	}
	e, err := b.open(stderr)
	if err != nil {
		return nil, err
	}
	return &eval.Model{Label: label, Path: e.remote.Describe(), Engine: e.Engine}, nil
}

// openedEngine is a loaded model or a connected backend (remote), with
// the sampling its requests start from.
type openedEngine struct {
	llm.Engine
	defaults llm.Sampling
	remote   *llm.Remote
	close    func() error
}
