package eval

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"ragtune/llm"
	"ragtune/llm/chat"
	"ragtune/rag"
	"ragtune/train/data"
)

// Suite names, as `ragtune eval --suite` takes them.
const (
	SuiteOverfit       = "overfit"
	SuiteForgetting    = "forgetting"
	SuiteRobustness    = "robustness"
	SuiteHallucination = "hallucination"
	SuiteSafety        = "safety"
)

// AllSuites lists every suite in the order reports show them.
var AllSuites = []string{SuiteOverfit, SuiteForgetting, SuiteRobustness, SuiteHallucination, SuiteSafety}

// ParseSuites turns "all" or a comma-separated list into suite names.
func ParseSuites(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return append([]string(nil), AllSuites...), nil
	}
	var out []string
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "overfitting" {
			name = SuiteOverfit
		}
		ok := false
		for _, k := range AllSuites {
			ok = ok || k == name
		}
		if !ok {
			return nil, fmt.Errorf("unknown suite %q: choose from all, %s", name, strings.Join(AllSuites, ", "))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}

//go:embed data/*.jsonl
var defaultData embed.FS

// Item is one question of a suite's data set. Files given with --data are
// JSON Lines, one object per line, with these fields:
//
//	id        optional label shown in reports (default: the line number)
//	lang      optional "zh" or "en"; by default "zh" when the question has Han characters
//	question  the prompt (also read from alpaca "instruction" + "input",
//	          medical-o1 "Question", or "prompt")
//	answers   accepted reference answers (also "answer", alpaca "output",
//	          medical-o1 "Response")
//	split     overfit only: "train" or "validation" (default validation)
//	choices   forgetting only, optional: candidate answers, one of which is
//	          answers[0]; the model "chooses" the one with the lowest
//	          answer-token perplexity
//	source    optional: the document that holds the answer (hallucination)
type Item struct {
	ID       string   `json:"id"`
	Lang     string   `json:"lang"`
	Question string   `json:"question"`
	Answers  []string `json:"answers"`
	Split    string   `json:"split,omitempty"`
	Choices  []string `json:"choices,omitempty"`
	Source   string   `json:"source,omitempty"`
}

// rawItem accepts the field names of the common SFT formats.
type rawItem struct {
	ID          any      `json:"id"`
	Lang        string   `json:"lang"`
	Question    string   `json:"question"`
	Prompt      string   `json:"prompt"`
	Instruction string   `json:"instruction"`
	Input       string   `json:"input"`
	QuestionO1  string   `json:"Question"`
	Answers     []string `json:"answers"`
	Answer      string   `json:"answer"`
	Output      string   `json:"output"`
	Response    string   `json:"Response"`
	Split       string   `json:"split"`
	Choices     []string `json:"choices"`
	Source      string   `json:"source"`
}

// ReadItems parses JSON Lines items (see Item); name labels errors.
// Blank lines are skipped.
func ReadItems(r io.Reader, name string) ([]Item, error) {
	var out []Item
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var ri rawItem
		if err := json.Unmarshal(b, &ri); err != nil {
			return nil, fmt.Errorf("%s:%d: %w (each line must be one JSON object)", name, line, err)
		}
		it := Item{Lang: ri.Lang, Split: ri.Split, Choices: ri.Choices, Source: ri.Source}
		if ri.ID != nil {
			it.ID = fmt.Sprint(ri.ID)
		} else {
			it.ID = fmt.Sprintf("%d", line)
		}
		switch {
		case ri.Question != "":
			it.Question = ri.Question
		case ri.Instruction != "":
			it.Question = ri.Instruction
			if ri.Input != "" {
				it.Question += "\n" + ri.Input
			}
		case ri.QuestionO1 != "":
			it.Question = ri.QuestionO1
		default:
			it.Question = ri.Prompt
		}
		it.Answers = ri.Answers
		for _, a := range []string{ri.Answer, ri.Output, ri.Response} {
			if a != "" {
				it.Answers = append(it.Answers, a)
			}
		}
		if strings.TrimSpace(it.Question) == "" {
			return nil, fmt.Errorf("%s:%d: no question (use the field \"question\")", name, line)
		}
		if it.Lang == "" {
			it.Lang = rag.QuestionLang(it.Question)
		}
		if len(it.Choices) > 0 {
			if len(it.Answers) == 0 || indexOf(it.Choices, it.Answers[0]) < 0 {
				return nil, fmt.Errorf("%s:%d: the first answer must be one of the choices", name, line)
			}
		}
		out = append(out, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// LoadItems reads a JSONL file of items.
func LoadItems(path string) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open data: %w", err)
	}
	defer f.Close()
	items, err := ReadItems(f, path)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s holds no items", path)
	}
	return items, nil
}

// DefaultItems returns the embedded data set of a suite (overfit,
// forgetting, robustness, hallucination); safety uses guard's probes.
func DefaultItems(suite string) ([]Item, error) {
	name := "data/" + suite + ".jsonl"
	f, err := defaultData.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no default data for suite %q", suite)
	}
	defer f.Close()
	return ReadItems(f, "eval/"+name)
}

// GenOptions controls how suites ask models for answers. The zero value is
// greedy decoding with seed 0, at most 128 new tokens.
type GenOptions struct {
	MaxTokens int // 0 means 128
	// Temperature 0 (default) is greedy; otherwise sampling with Seed.
	Temperature     float64
	Seed            int64
	DisableThinking bool
	// System is an optional system message before every question.
	System string

	stats *genStats   // counts answers lost in the reasoning, when set
	pre   *prefetched // generations started ahead (prefetch), when set
}

// genStats counts generations, for the notes of a report.
type genStats struct {
	mu                 sync.Mutex
	answers, inThought int
}

func (g *genStats) add(res *llm.Result) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answers++
	if strings.TrimSpace(res.Text) == "" && res.Reasoning != "" {
		g.inThought++
	}
}

// note explains empty answers of a reasoning model, or returns "".
func (g *genStats) note() string {
	if g == nil || g.inThought == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d answers ended inside the model's reasoning (max tokens reached before </think>) and count as empty: raise --max-tokens or pass --no-think", g.inThought, g.answers)
}

func (g GenOptions) request(msgs []llm.Message, raw bool) llm.Request {
	n := g.MaxTokens
	if n <= 0 {
		n = 128
	}
	if g.System != "" {
		msgs = append([]llm.Message{{Role: "system", Content: g.System}}, msgs...)
	}
	req := llm.Request{
		Messages: msgs, MaxTokens: n, DisableThinking: g.DisableThinking,
		Sampling: &llm.Sampling{Temperature: g.Temperature, Seed: g.Seed},
	}
	if raw {
		// No chat template: the plain format, and a new line ends the answer.
		req.Messages, req.Prompt, req.Stop = nil, chat.Plain(msgs, true), []string{"\n"}
	}
	return req
}

// answer asks m one question and returns its answer (reasoning removed)
// and the wall time the generation took.
func answer(ctx context.Context, m *Model, g GenOptions, prompt string) (string, time.Duration, error) {
	res, d, err := generate(ctx, m, g, prompt)
	if err != nil {
		return "", 0, err
	}
	return strings.TrimSpace(res.Text), d, nil
}

// generate is answer with the whole Result, for reports that show whether
// the reasoning closed. A generation prefetch started is taken from there. The duration is the
// generation's own wall time, which for generations sharing the engine's
// steps includes the time the others' tokens took in each step.
func generate(ctx context.Context, m *Model, g GenOptions, prompt string) (*llm.Result, time.Duration, error) {
	if f := g.pre.take(prompt); f != nil {
		<-f.done
		if f.err == nil {
			g.stats.add(f.res)
		}
		return f.res, f.d, f.err
	}
	res, d, err := g.run(ctx, m, prompt)
	if err == nil {
		g.stats.add(res)
	}
	return res, d, err
}

func (g GenOptions) run(ctx context.Context, m *Model, prompt string) (*llm.Result, time.Duration, error) {
	t0 := time.Now()
	res, err := m.Engine.Generate(ctx, g.request([]llm.Message{{Role: "user", Content: prompt}}, m.RawPrompts), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("generate with %s: %w", m.name(), err)
	}
	return res, time.Since(t0), nil
}

func (m *Model) name() string {
	if m.Label != "" {
		return m.Label
	}
	return m.Path
}

// answerLogProbs scores the reference answer of a question, as the assistant
// turn after the question rendered by the model's chat template: the
// answer-only log-probabilities a fine-tuning loss sees.
func answerLogProbs(sc *Scorer, m *Model, question, ans string) ([]float64, error) {
	if m.Net == nil {
		return nil, errNoNet
	}
	ex := data.Example{Messages: []data.Message{{Role: "user", Content: question}, {Role: "assistant", Content: ans}}}
	bos := ""
	if m.Tok != nil && m.Tok.BOS() >= 0 {
		bos = m.Tok.Token(m.Tok.BOS())
	}
	s, err := data.Encode(ex, renderer(m.Template, bos), m.Tok, sc.MaxSeq())
	if err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	toks := make([]int, len(s.Tokens))
	for i, t := range s.Tokens {
		toks[i] = int(t)
	}
	return sc.MaskedLogProbs(toks, s.Labels)
}

// Thresholds holds the cut-offs that turn scores into yes/no judgements.
type Thresholds struct {
	// RightF1 (0–100): a generated answer is right when its F1 against
	// the references reaches this. Default 50.
	RightF1 float64 `json:"right_f1"`
	// Support (0–1): a sentence is supported by a passage when the share
	// of its terms (Chinese character bigrams, other words) found in the
	// passage reaches this (see SupportScore). Default 0.5.
	Support float64 `json:"support"`
}

func (t Thresholds) withDefaults() Thresholds {
	if t.RightF1 == 0 {
		t.RightF1 = 50
	}
	if t.Support == 0 {
		t.Support = 0.5
	}
	return t
}

// qaStyle picks CMRC scoring for Chinese items and SQuAD for the rest.
func qaStyle(it Item) QAStyle {
	if it.Lang == "zh" {
		return QACMRC
	}
	return QASQuAD
}

// qaScore is the EM and F1 (0–100) of one prediction.
func qaScore(it Item, pred string) (em, f1 float64) {
	if len(it.Answers) == 0 {
		return math.NaN(), math.NaN()
	}
	if qaStyle(it) == QACMRC {
		return 100 * CMRCExactMatch(pred, it.Answers), 100 * CMRCF1(pred, it.Answers)
	}
	return 100 * SQuADExactMatch(pred, it.Answers), 100 * SQuADF1(pred, it.Answers)
}

// textScores holds corpus-level overlap metrics of generated answers.
type TextScores struct {
	N      int     `json:"n"`
	EM     float64 `json:"em"`
	F1     float64 `json:"f1"`
	BLEU   float64 `json:"bleu"`
	Rouge1 float64 `json:"rouge1"`
	Rouge2 float64 `json:"rouge2"`
	RougeL float64 `json:"rougeL"`
}

var rougeScorer, _ = NewRouge(RougeOptions{Types: []string{"rouge1", "rouge2", "rougeL"}})

// scoreTexts computes EM/F1 (per item style), corpus BLEU (zh tokenizer
// when any reference is Chinese: it leaves non-Chinese text to 13a) and
// mean ROUGE F (characters for Chinese) of predictions against items'
// references. Items without references are skipped.
func scoreTexts(items []Item, preds []string) (TextScores, error) {
	var s TextScores
	var hyps []string
	var refs [][]string
	maxRefs := 0
	zh := false
	for i, it := range items {
		if len(it.Answers) == 0 {
			continue
		}
		// Model output may hold control bytes (a NUL from a random or
		// broken model); they are not content, and the BLEU n-gram keys
		// use NUL as their separator.
		pred := dropControl(preds[i])
		answers := make([]string, len(it.Answers))
		for k, a := range it.Answers {
			answers[k] = dropControl(a)
		}
		it.Answers = answers
		em, f1 := qaScore(it, pred)
		s.EM += em
		s.F1 += f1
		r, err := rougeScorer.ScoreMulti(it.Answers, pred)
		if err != nil {
			return s, err
		}
		s.Rouge1 += r["rouge1"].F
		s.Rouge2 += r["rouge2"].F
		s.RougeL += r["rougeL"].F
		s.N++
		hyps = append(hyps, pred)
		refs = append(refs, it.Answers)
		maxRefs = max(maxRefs, len(it.Answers))
		zh = zh || it.Lang == "zh"
	}
	if s.N == 0 {
		return s, nil
	}
	n := float64(s.N)
	s.EM /= n
	s.F1 /= n
	s.Rouge1 *= 100 / n
	s.Rouge2 *= 100 / n
	s.RougeL *= 100 / n
	// sacrebleu's layout: one stream per reference index, "" where a
	// segment has fewer references.
	streams := make([][]string, maxRefs)
	for k := range streams {
		streams[k] = make([]string, len(refs))
		for i, r := range refs {
			if k < len(r) {
				streams[k][i] = r[k]
			}
		}
	}
	tok := Tokenize13a
	if zh {
		tok = TokenizeZh
	}
	b, err := CorpusBLEU(hyps, streams, BLEUOptions{Tokenize: tok})
	if err != nil {
		return s, err
	}
	s.BLEU = b.Score
	return s, nil
}

// isRight is the forgetting/robustness notion of a correct generated
// answer: F1 against the references at least th.RightF1.
func isRight(it Item, pred string, th Thresholds) bool {
	_, f1 := qaScore(it, pred)
	return f1 >= th.RightF1
}

// dropControl removes control characters other than whitespace.
func dropControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// limitItems keeps the first n items (all when n <= 0).
func limitItems(items []Item, n int) []Item {
	if n > 0 && len(items) > n {
		return items[:n]
	}
	return items
}

// progress writes "suite: done/total" lines to w (nil: silent).
type progress struct {
	w     io.Writer
	suite string
	total int
	done  int
	last  time.Time
}

func newProgress(w io.Writer, suite string, total int) *progress {
	return &progress{w: w, suite: suite, total: total}
}

func (p *progress) step() {
	if p == nil || p.w == nil {
		return
	}
	p.done++
	if p.done == p.total || time.Since(p.last) > time.Second {
		fmt.Fprintf(p.w, "  %s: %d/%d\n", p.suite, p.done, p.total)
		p.last = time.Now()
	}
}

// percentile is the q-quantile (0–1) of xs by linear interpolation
// between closest ranks (NaN for none).
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
