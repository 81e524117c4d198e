package rag

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"ragtune/llm"
)

func outputResults() []Result {
	return []Result{
		{ID: "a", Score: 0.5, Chunk: Chunk{Source: "a.md", Headings: []string{"量化", "Q8_0"}, Text: "line one\nline two", CharStart: 3, CharEnd: 20}},
		{ID: "b", Score: 0.25, Chunk: Chunk{Source: "b.txt", Title: "B", Text: "遗忘", CharEnd: 2}},
	}
}

func TestWriteResultsAndRows(t *testing.T) {
	res := outputResults()
	if got := res[0].Chunk.Where(); got != "a.md › 量化 › Q8_0" {
		t.Errorf("Where = %q", got)
	}
	var b strings.Builder
	WriteResults(&b, res)
	want := "[1] score 0.5000  a.md › 量化 › Q8_0  (chars 3-20)\n    line one\n    line two\n\n" +
		"[2] score 0.2500  b.txt  (chars 0-2)\n    遗忘\n\n"
	if b.String() != want {
		t.Errorf("WriteResults:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	WriteResults(&b, nil)
	if b.String() != "no matching chunks\n" {
		t.Errorf("no results: %q", b.String())
	}
	j, _ := json.Marshal(ResultRows(nil))
	if string(j) != "[]" {
		t.Errorf("empty rows marshal as %s, want []", j)
	}
	rows := ResultRows(res)
	if len(rows) != 2 || rows[1].Rank != 2 || rows[1].Title != "B" || rows[0].Chars != [2]int{3, 20} || rows[0].Text != res[0].Chunk.Text {
		t.Errorf("rows %+v", rows)
	}
}

func TestReportAndSources(t *testing.T) {
	res := outputResults()
	ra := &AnswerResult{Results: res, Lang: "zh", Answered: true, Answer: "x [1] [7] [0]", Citations: []int{1, 7, 0}, Cited: []int{1}, Invalid: []int{0, 7}}
	r := ra.Report("q", "m", "lora")
	if !slices.Equal(r.Citations, []int{1}) || !slices.Equal(r.InvalidCitations, []int{0, 7}) || len(r.Sources) != 1 ||
		r.Sources[0] != (SourceRow{1, "a.md", [2]int{3, 20}}) || r.Note != "the answer cites numbers that are not passages (there are 2)" || r.Adapter != "lora" {
		t.Errorf("report %+v", r)
	}
	var b strings.Builder
	ra.WriteSources(&b)
	want := "sources:\n  [1] a.md › 量化 › Q8_0  (chars 3-20)\n" +
		"warning: the answer cites [0] [7], which are not passages (there are 2: [1]-[2]); what it attributes there has no source\n"
	if b.String() != want {
		t.Errorf("sources:\n%q\nwant\n%q", b.String(), want)
	}

	none := &AnswerResult{Results: res, Answered: true}
	if r := none.Report("q", "m", ""); r.Note != "the answer cites no passage" || r.Citations == nil || r.InvalidCitations == nil || r.Sources == nil {
		t.Errorf("no citations: %+v", r)
	}
	b.Reset()
	none.WriteSources(&b)
	if !strings.HasPrefix(b.String(), "sources: none — the answer cites no passage") {
		t.Errorf("no citations: %q", b.String())
	}
	b.Reset()
	(&AnswerResult{Results: res, Answered: true, Citations: []int{3}, Invalid: []int{3}}).WriteSources(&b)
	if out := b.String(); !strings.Contains(out, "no number the answer cites is one of the passages") || !strings.Contains(out, "[3], which is not a passage") {
		t.Errorf("invalid only:\n%s", out)
	}
	if r := (&AnswerResult{}).Report("q", "m", ""); r.Note != "nothing was retrieved, so the model was not asked" {
		t.Errorf("unanswered note %q", r.Note)
	}
}

func TestAnswerStream(t *testing.T) {
	var b strings.Builder
	a := NewAnswerStream(&b, "answer:\n")
	a.End()
	if b.String() != "" || a.Started() {
		t.Errorf("nothing streamed: %q", b.String())
	}
	for _, tk := range []llm.Token{{Text: "hmm", Reasoning: true}, {Text: " \n"}, {Text: " Yes [1]"}, {Text: ", done."}} {
		if err := a.Token(tk); err != nil {
			t.Fatal(err)
		}
	}
	a.End()
	if got := b.String(); got != "answer:\nYes [1], done.\n" || !a.Started() {
		t.Errorf("streamed %q", got)
	}
}
