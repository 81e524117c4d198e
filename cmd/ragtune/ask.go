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
	"unicode"

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
of the list of chunks.

Examples:
  ragtune ask --kb med "二甲双胍的禁忌症有哪些？"
  ragtune ask --kb med --model ./r1-1.5b --top-k 3 "二甲双胍的禁忌症有哪些？"
  ragtune ask --kb med --model r1-q4_0.gguf --json "What does Q8_0 store?"`

func askCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ask", "--kb NAME [--top-k K] [--mode bm25|dense|hybrid] [--model DIR|FILE.gguf [--adapter DIR]] QUESTION", askDescription)
	fs.SetOutput(stderr)
	name, root := kbFlags(fs)
	topK := fs.Int("top-k", 5, "number of chunks")
	modeName := fs.String("mode", "bm25", "bm25, dense or hybrid")
	fusion := fs.String("fusion", "rrf", "hybrid fusion: rrf or relative")
	source := fs.String("source", "", "only chunks of files under this `path`")
	asJSON := fs.Bool("json", false, "print JSON")
	modelPath := fs.String("model", "", "answer from the chunks with this model: HF `DIR` or GGUF file (default: retrieval only)")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter `DIR` merged into --model on load")
	maxTokens := fs.Int("max-tokens", 512, "answer at most `N` tokens (0: until the context is full)")
	ctxSize := fs.Int("ctx", 0, "context size in tokens `N`, prompt and answer together (default min(model maximum, 4096))")
	rr := rerankFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dir, err := kbDir(*root, *name)
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
	if *modelPath == "" && *adapter != "" {
		return usageErrorf("--adapter needs --model (the model the adapter was trained on)")
	}
	if *maxTokens < 0 || *ctxSize < 0 {
		return usageErrorf("--max-tokens and --ctx must be >= 0")
	}
	rcfg, err := rr.config()
	if err != nil {
		return err
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return kbOpenError(err, *name)
	}
	defer s.Close()
	var filter index.Filter
	if *source != "" {
		filter = rag.SourceUnder(*source)
	}
	q := rag.Query{Text: question, K: *topK, Mode: mode, Filter: filter, Fusion: rag.Fusion(*fusion)}
	if rcfg != nil {
		q.Rerank = rag.StoreReranker(s, rcfg.Scorer(), rcfg.Depth)
	} else if score, depth := kbReranker(s); score != nil && !*rr.none {
		q.Rerank = rag.StoreReranker(s, score, depth)
	}
	if *modelPath == "" {
		res, err := s.Search(context.Background(), q)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, askRows(res))
		}
		printAskResults(stdout, res)
		return nil
	}

	// The model loads after the knowledge base opened, so a wrong --kb
	// fails at once instead of after seconds of loading weights.
	m, err := loadEvalModel("model", *modelPath, *adapter, *ctxSize, stderr)
	if err != nil {
		return fmt.Errorf("load --model %s: %w", *modelPath, err)
	}
	defer m.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := rag.AnswerOptions{MaxTokens: *maxTokens, RawPrompt: m.RawPrompts}
	if *asJSON {
		ra, err := askAnswer(ctx, s, q, m.Engine, opts)
		if err != nil {
			return err
		}
		return writeJSON(stdout, askJSONOutput(question, *modelPath, *adapter, ra))
	}
	sw := &answerStream{w: stdout, header: "answer:\n"}
	opts.OnToken = sw.token
	// The passages print before generation starts, so a reader has them
	// while a slow model writes.
	opts.OnRetrieved = func(res []rag.Result) error {
		printAskResults(stdout, res)
		return nil
	}
	ra, err := askAnswer(ctx, s, q, m.Engine, opts)
	sw.end()
	if err != nil {
		return err
	}
	if !ra.Answered {
		fmt.Fprintln(stdout, "no answer: nothing was retrieved to ground it in; try other words, --mode hybrid, or drop --source")
		return nil
	}
	if !sw.started {
		fmt.Fprint(stdout, sw.header)
		fmt.Fprintln(stdout, "(the model wrote no answer)")
	}
	fmt.Fprintln(stdout)
	printAskSources(stdout, ra)
	if ra.Gen != nil {
		printStats(stderr, ra.Gen)
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

// askRow is one retrieved chunk in ask's JSON; without --model the output
// is a list of them, as it has always been.
type askRow struct {
	Rank     int      `json:"rank"`
	Score    float64  `json:"score"`
	Source   string   `json:"source"`
	Title    string   `json:"title,omitempty"`
	Headings []string `json:"headings,omitempty"`
	Chars    [2]int   `json:"chars"`
	Text     string   `json:"text"`
}

func askRows(res []rag.Result) []askRow {
	rows := []askRow{}
	for i, r := range res {
		rows = append(rows, askRow{i + 1, r.Score, r.Chunk.Source, r.Chunk.Title, r.Chunk.Headings, [2]int{r.Chunk.CharStart, r.Chunk.CharEnd}, r.Chunk.Text})
	}
	return rows
}

// askSource maps a cited [n] to the chunk it names.
type askSource struct {
	N      int    `json:"n"`
	Source string `json:"source"`
	Chars  [2]int `json:"chars"`
}

// askJSON is ask's output with --model. The citation lists are never
// null, so a reader can take their length without a nil check.
type askJSON struct {
	Question         string      `json:"question"`
	Lang             string      `json:"lang"`
	Model            string      `json:"model"`
	Adapter          string      `json:"adapter,omitempty"`
	Results          []askRow    `json:"results"`
	Answered         bool        `json:"answered"`
	Answer           string      `json:"answer"`
	Citations        []int       `json:"citations"`         // distinct [n] that name a passage
	InvalidCitations []int       `json:"invalid_citations"` // distinct [n] that name none
	Sources          []askSource `json:"sources"`           // one per citation
	Note             string      `json:"note,omitempty"`
}

func askJSONOutput(question, modelPath, adapter string, ra *rag.AnswerResult) askJSON {
	out := askJSON{Question: question, Lang: ra.Lang, Model: modelPath, Adapter: adapter, Results: askRows(ra.Results),
		Answered: ra.Answered, Answer: ra.Answer, Citations: []int{}, InvalidCitations: []int{}, Sources: []askSource{}}
	out.Citations = append(out.Citations, ra.Cited...)
	out.InvalidCitations = append(out.InvalidCitations, ra.Invalid...)
	for _, n := range ra.Cited {
		c := ra.Results[n-1].Chunk
		out.Sources = append(out.Sources, askSource{n, c.Source, [2]int{c.CharStart, c.CharEnd}})
	}
	switch {
	case !ra.Answered:
		out.Note = "nothing was retrieved, so the model was not asked"
	case len(ra.Citations) == 0:
		out.Note = "the answer cites no passage"
	case len(ra.Invalid) > 0:
		out.Note = fmt.Sprintf("the answer cites numbers that are not passages (there are %d)", len(ra.Results))
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// chunkWhere names a chunk by file and heading path, as ask prints it.
func chunkWhere(c rag.Chunk) string {
	where := c.Source
	if len(c.Headings) > 0 {
		where += " › " + strings.Join(c.Headings, " › ")
	}
	return where
}

func printAskResults(w io.Writer, res []rag.Result) {
	if len(res) == 0 {
		fmt.Fprintln(w, "no matching chunks")
		return
	}
	for i, r := range res {
		c := r.Chunk
		fmt.Fprintf(w, "[%d] score %.4f  %s  (chars %d-%d)\n", i+1, r.Score, chunkWhere(c), c.CharStart, c.CharEnd)
		for _, line := range strings.Split(c.Text, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
		fmt.Fprintln(w)
	}
}

// printAskSources lists what the answer's citations point at, and says
// plainly when they point at nothing: an answer without a valid citation
// is not shown to come from the knowledge base.
func printAskSources(w io.Writer, ra *rag.AnswerResult) {
	switch {
	case len(ra.Citations) == 0:
		fmt.Fprintln(w, "sources: none — the answer cites no passage, so nothing ties it to the knowledge base; check it against the passages above")
	case len(ra.Cited) == 0:
		fmt.Fprintln(w, "sources: none — no number the answer cites is one of the passages above")
	default:
		fmt.Fprintln(w, "sources:")
		for _, n := range ra.Cited {
			c := ra.Results[n-1].Chunk
			fmt.Fprintf(w, "  [%d] %s  (chars %d-%d)\n", n, chunkWhere(c), c.CharStart, c.CharEnd)
		}
	}
	if len(ra.Invalid) > 0 {
		marks := make([]string, len(ra.Invalid))
		for i, n := range ra.Invalid {
			marks[i] = fmt.Sprintf("[%d]", n)
		}
		verb := "are not passages"
		if len(marks) == 1 {
			verb = "is not a passage"
		}
		fmt.Fprintf(w, "warning: the answer cites %s, which %s (there are %d: [1]-[%d]); what it attributes there has no source\n",
			strings.Join(marks, " "), verb, len(ra.Results), len(ra.Results))
	}
}

// answerStream writes the streamed answer as rag.Answer later returns
// it: leading white space dropped, reasoning (which DisableThinking should
// prevent) left out, and a final newline. The header goes out with the
// first text, so a generation that fails at once (a prompt too long for
// the context) leaves no dangling "answer:" above the error.
type answerStream struct {
	w       io.Writer
	header  string
	started bool
	lastNL  bool
}

func (a *answerStream) token(t llm.Token) error {
	if t.Reasoning {
		return nil
	}
	text := t.Text
	if !a.started {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		if text == "" {
			return nil
		}
		a.started = true
		if _, err := io.WriteString(a.w, a.header); err != nil {
			return err
		}
	}
	a.lastNL = strings.HasSuffix(text, "\n")
	_, err := io.WriteString(a.w, text)
	return err
}

func (a *answerStream) end() {
	if a.started && !a.lastNL {
		io.WriteString(a.w, "\n")
	}
}
