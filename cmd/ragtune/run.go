package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"ragtune/train"
	"strconv"
	"strings"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
	"ragtune/llm"
	"ragtune/tensor"
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

Sampling flags left unset take the model's generation_config.json values
(DeepSeek-R1: temperature 0.6, top-p 0.95); --temperature 0 is greedy.

Examples:
  ragtune run --model ./r1-1.5b --prompt "什么是灾难性遗忘？"
  echo "Why is the sky blue?" | ragtune run --model ./r1-1.5b --prompt - --no-think
  ragtune run --model model.gguf --raw --prompt "Once upon a time" --max-tokens 64`

func runRun(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "--model DIR|FILE.gguf --prompt TEXT [flags]", runDescription)
	fs.SetOutput(stderr)
	g := addGenFlags(fs)
	prompt := fs.String("prompt", "", "the prompt (\"-\" reads stdin; words after the flags also work)")
	system := fs.String("system", "", "system message (R1 recommends none)")
	raw := fs.Bool("raw", false, "send the prompt as raw text, without the chat template")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	text := *prompt
	if rest := strings.Join(fs.Args(), " "); rest != "" {
		if text != "" {
			return usageErrorf("give the prompt once: --prompt or words after the flags, not both")
		}
		text = rest
	}
	if text == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("read prompt from stdin: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
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

	eng, err := g.load(stderr)
	if err != nil {
		return err
	}
	defer eng.Close()

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
	p := newStreamPrinter(stdout, stderr, g.showThink)
	res, err := eng.Generate(ctx, req, p.token)
	p.end()
	if res != nil {
		printStats(stderr, res)
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
	ctx       int
	kvType    string
	maxTokens int
	temp      optFloat
	topP      optFloat
	minP      optFloat
	repeat    optFloat
	freq      optFloat
	presence  optFloat
	topK      optInt
	seed      optInt
	stops     stringList
	showThink bool
	noThink   bool
}

func addGenFlags(fs *flag.FlagSet) *genFlags {
	g := &genFlags{fs: fs}
	fs.StringVar(&g.model, "model", "", "model: HF `DIR` or GGUF file (required)")
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
	if g.model == "" {
		return usageErrorf("--model is required (an HF model directory or a .gguf file; create a test model with 'ragtune model init')")
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
	return cli.ModelPath(g.model)
}

// checkSampling validates the sampling flags that were given, before the
// model loads, naming each flag; the model's defaults fill the rest and
// are checked again with them in request.
func (g *genFlags) checkSampling() error {
	var c cli.Checks
	if g.temp.set {
		c.NonNegative("--temperature", g.temp.v)
	}
	if g.topP.set {
		c.Range("--top-p", g.topP.v, 0, 1)
	}
	if g.minP.set {
		c.Range("--min-p", g.minP.v, 0, 1)
	}
	if g.repeat.set {
		// 0 would divide logits by zero; 1 is off.
		c.Positive("--repeat-penalty", g.repeat.v)
	}
	if g.freq.set {
		c.Range("--frequency-penalty", g.freq.v, -2, 2)
	}
	if g.presence.set {
		c.Range("--presence-penalty", g.presence.v, -2, 2)
	}
	if g.topK.set {
		c.Check(g.topK.v >= 0, "--top-k must be >= 0, not %d", g.topK.v)
	}
	return c.Err()
}

func (g *genFlags) load(stderr io.Writer) (*llm.Local, error) {
	t0 := time.Now()
	opts := llm.LoadOptions{LocalOptions: llm.LocalOptions{ContextSize: g.ctx}, KVType: g.kvType}
	src, cfg, err := train.OpenWithAdapter(g.model, g.adapter)
	if err != nil {
		return nil, err
	}
	eng, err := llm.LoadLocalFrom(g.model, src, cfg, opts)
	if err != nil {
		return nil, err
	}
	if g.adapter != "" {
		fmt.Fprintf(stderr, "merged adapter %s\n", g.adapter)
	}
	fmt.Fprintf(stderr, "loaded %s in %s (context %d tokens)\n", g.model, time.Since(t0).Round(time.Millisecond), eng.ContextSize())
	return eng, nil
}

// request returns a Request with the flags' sampling over the model's
// defaults.
func (g *genFlags) request(eng *llm.Local) (llm.Request, error) {
	s := eng.DefaultSampling()
	g.temp.apply(&s.Temperature)
	g.topP.apply(&s.TopP)
	g.minP.apply(&s.MinP)
	g.repeat.apply(&s.RepetitionPenalty)
	g.freq.apply(&s.FrequencyPenalty)
	g.presence.apply(&s.PresencePenalty)
	if g.topK.set {
		s.TopK = int(g.topK.v)
	}
	if g.seed.set {
		s.Seed = g.seed.v
	}
	if err := s.Validate(); err != nil {
		return llm.Request{}, usageErrorf("%v", err)
	}
	return llm.Request{MaxTokens: g.maxTokens, Sampling: &s, Stop: g.stops, DisableThinking: g.noThink}, nil
}

// streamPrinter writes streamed tokens: the answer to out, the reasoning
// to errw (dim on a terminal) or inline in out with showThink.
type streamPrinter struct {
	out, errw   io.Writer
	showThink   bool
	dim         bool
	inThink     bool
	wroteAny    bool
	lastNewline bool
}

func newStreamPrinter(out, errw io.Writer, showThink bool) *streamPrinter {
	return &streamPrinter{out: out, errw: errw, showThink: showThink, dim: isTerminal(errw)}
}

func (p *streamPrinter) token(t llm.Token) error {
	switch {
	case t.Reasoning && !p.inThink:
		p.inThink = true
		if p.showThink {
			io.WriteString(p.out, "<think>\n")
		} else if p.dim {
			io.WriteString(p.errw, "\x1b[2m")
		}
	case !t.Reasoning && p.inThink:
		p.closeThink()
	}
	w := p.out
	if t.Reasoning && !p.showThink {
		w = p.errw
	}
	_, err := io.WriteString(w, t.Text)
	if w == p.out {
		p.wroteAny = true
		p.lastNewline = strings.HasSuffix(t.Text, "\n")
	}
	return err
}

func (p *streamPrinter) closeThink() {
	p.inThink = false
	if p.showThink {
		io.WriteString(p.out, "\n</think>\n\n")
		return
	}
	if p.dim {
		io.WriteString(p.errw, "\x1b[0m")
	}
	io.WriteString(p.errw, "\n")
}

// end finishes the output with a newline after the answer.
func (p *streamPrinter) end() {
	if p.inThink {
		p.closeThink()
	}
	if p.wroteAny && !p.lastNewline {
		io.WriteString(p.out, "\n")
	}
	p.wroteAny, p.lastNewline = false, false
}

func printStats(w io.Writer, r *llm.Result) {
	fmt.Fprintf(w, "prompt %s (%d cached) in %s, %.1f tok/s · output %s in %s, %.1f tok/s · %s\n",
		plural.Count(r.PromptTokens, "token"), r.CachedTokens, r.PrefillTime.Round(time.Millisecond), r.PrefillTokensPerSecond(),
		plural.Count(r.CompletionTokens, "token"), r.DecodeTime.Round(time.Millisecond), r.DecodeTokensPerSecond(), r.FinishReason)
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

func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// optFloat and optInt are flags that remember whether they were given, so
// unset sampling flags keep the model's defaults.
type optFloat struct {
	v   float64
	set bool
}

func (o *optFloat) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	o.v, o.set = v, true
	return nil
}

func (o *optFloat) apply(dst *float64) {
	if o.set {
		*dst = o.v
	}
}

type optInt struct {
	v   int64
	set bool
}

func (o *optInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	o.v, o.set = v, true
	return nil
}

type stringList []string

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ", ")
}
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}
