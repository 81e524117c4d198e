package rag

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"ragtune/llm"
)

// What 'ragtune ask' shows a reader: ranked chunks as text or JSON rows,
// an answer streamed as it is written, and the sources its citations name.
// The forms are part of the command's interface (scripts read the JSON),
// so they change only on purpose.

// Where names a chunk by file and heading path: "guide.md › Setup ›
// Linux".
func (c Chunk) Where() string {
	where := c.Source
	if len(c.Headings) > 0 {
		where += " › " + strings.Join(c.Headings, " › ")
	}
	return where
}

// ResultRow is one retrieved chunk in JSON output.
type ResultRow struct {
	Rank     int      `json:"rank"`
	Score    float64  `json:"score"`
	Source   string   `json:"source"`
	Title    string   `json:"title,omitempty"`
	Headings []string `json:"headings,omitempty"`
	Chars    [2]int   `json:"chars"`
	Text     string   `json:"text"`
}

// ResultRows ranks res from 1; never nil, so an empty search prints [].
func ResultRows(res []Result) []ResultRow {
	rows := []ResultRow{}
	for i, r := range res {
		rows = append(rows, ResultRow{i + 1, r.Score, r.Chunk.Source, r.Chunk.Title, r.Chunk.Headings, [2]int{r.Chunk.CharStart, r.Chunk.CharEnd}, r.Chunk.Text})
	}
	return rows
}

// SourceRow maps a cited [n] to the chunk it names.
type SourceRow struct {
	N      int    `json:"n"`
	Source string `json:"source"`
	Chars  [2]int `json:"chars"`
}

// AnswerReport is an answer in JSON output. The citation lists are never
// null, so a reader can take their length without a nil check.
type AnswerReport struct {
	Question         string      `json:"question"`
	Lang             string      `json:"lang"`
	Model            string      `json:"model"`
	Adapter          string      `json:"adapter,omitempty"`
	Results          []ResultRow `json:"results"`
	Answered         bool        `json:"answered"`
	Answer           string      `json:"answer"`
	Citations        []int       `json:"citations"`         // distinct [n] that name a passage
	InvalidCitations []int       `json:"invalid_citations"` // distinct [n] that name none
	Sources          []SourceRow `json:"sources"`           // one per citation
	Note             string      `json:"note,omitempty"`
}

// Report is the answer as JSON output shows it; model and adapter name
// what answered (a path or a backend's model), and Note says what a
// reader should know when the answer is not grounded.
func (ra *AnswerResult) Report(question, model, adapter string) AnswerReport {
	out := AnswerReport{Question: question, Lang: ra.Lang, Model: model, Adapter: adapter, Results: ResultRows(ra.Results),
		Answered: ra.Answered, Answer: ra.Answer, Citations: []int{}, InvalidCitations: []int{}, Sources: []SourceRow{}}
	out.Citations = append(out.Citations, ra.Cited...)
	out.InvalidCitations = append(out.InvalidCitations, ra.Invalid...)
	for _, n := range ra.Cited {
		c := ra.Results[n-1].Chunk
		out.Sources = append(out.Sources, SourceRow{n, c.Source, [2]int{c.CharStart, c.CharEnd}})
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

// WriteResults prints ranked chunks with score, place and text, numbered
// [1]..[K] as the answer prompt numbers them.
func WriteResults(w io.Writer, res []Result) {
	if len(res) == 0 {
		fmt.Fprintln(w, "no matching chunks")
		return
	}
	for i, r := range res {
		c := r.Chunk
		fmt.Fprintf(w, "[%d] score %.4f  %s  (chars %d-%d)\n", i+1, r.Score, c.Where(), c.CharStart, c.CharEnd)
		for _, line := range strings.Split(c.Text, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
		fmt.Fprintln(w)
	}
}

// WriteSources lists what the answer's citations point at, and says
// plainly when they point at nothing: an answer without a valid citation
// is not shown to come from the knowledge base.
func (ra *AnswerResult) WriteSources(w io.Writer) {
	switch {
	case len(ra.Citations) == 0:
		fmt.Fprintln(w, "sources: none — the answer cites no passage, so nothing ties it to the knowledge base; check it against the passages above")
	case len(ra.Cited) == 0:
		fmt.Fprintln(w, "sources: none — no number the answer cites is one of the passages above")
	default:
		fmt.Fprintln(w, "sources:")
		for _, n := range ra.Cited {
			c := ra.Results[n-1].Chunk
			fmt.Fprintf(w, "  [%d] %s  (chars %d-%d)\n", n, c.Where(), c.CharStart, c.CharEnd)
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

// AnswerStream writes a streamed answer as Answer later returns it:
// leading white space dropped, reasoning (which DisableThinking should
// prevent) left out, and a final newline. The header goes out with the
// first text, so a generation that fails at once (a prompt too long for
// the context) leaves no dangling "answer:" above the error.
type AnswerStream struct {
	w       io.Writer
	header  string
	started bool
	lastNL  bool
}

// NewAnswerStream returns a stream writing to w, header first.
func NewAnswerStream(w io.Writer, header string) *AnswerStream {
	return &AnswerStream{w: w, header: header}
}

// Token writes one token; it is AnswerOptions.OnToken.
func (a *AnswerStream) Token(t llm.Token) error {
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

// End ends a started answer with a newline.
func (a *AnswerStream) End() {
	if a.started && !a.lastNL {
		io.WriteString(a.w, "\n")
	}
}

// Started reports whether any answer text was written (and the header
// with it).
func (a *AnswerStream) Started() bool { return a.started }
