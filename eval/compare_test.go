package eval

import (
	"bytes"
	"context"
	"math"
	"ragtune/rag"
	"strings"
	"testing"
)

func TestCompareRows(t *testing.T) {
	ps := fixedRetriever{{ID: "p1", Source: "a.md", Text: "巴黎是法国的首都。"}}
	items := []Item{
		{ID: "1", Lang: "zh", Question: "法国的首都是哪里？", Answers: []string{"巴黎"}},
		{ID: "2", Lang: "en", Question: "Capital of Japan?", Answers: []string{"Tokyo"}},
	}
	ragPrompt := func(i int) string { return rag.Prompt(items[i].Question, ps, rag.PromptOptions{Lang: items[i].Lang}) }
	base := map[string]string{items[0].Question: "伦敦", items[1].Question: "Tokyo", ragPrompt(0): "巴黎是法国的首都。[1]", ragPrompt(1): "Tokyo [2]"}
	tuned := map[string]string{items[0].Question: "巴黎", items[1].Question: "Tokyo", ragPrompt(0): "巴黎 [1]", ragPrompt(1): "Tokyo"}
	opened := 0
	open := func(label string, answers map[string]string) CompareModel {
		return CompareModel{Label: label, Open: func() (*Model, error) {
			opened++
			m := fake("", answers)
			m.Label = ""
			return m, nil
		}}
	}
	rep, err := RunCompare(context.Background(), CompareConfig{
		Models: []CompareModel{open("base", base), open("tuned", tuned)}, Items: items, Retriever: ps, TopK: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Compare
	var variants []string
	for _, r := range c.Rows {
		variants = append(variants, r.Variant)
	}
	if got, want := strings.Join(variants, ","), "base,base+RAG,tuned,tuned+RAG"; got != want || opened != 2 {
		t.Fatalf("variants %s (models opened %d), want %s (2)", got, opened, want)
	}
	for _, tc := range []struct {
		row    int
		em, f1 float64
	}{{0, 50, 50}, {1, 50, 70}, {2, 100, 100}, {3, 100, 100}} {
		r := c.Rows[tc.row]
		near(t, r.Variant+" EM", r.Scores.EM, tc.em)
		near(t, r.Variant+" F1", r.Scores.F1, tc.f1)
	}
	// base+RAG cites [1] (valid) and [2] (only one passage retrieved).
	near(t, "base+RAG citation validity", c.Rows[1].CitationValidity, 50)
	for _, i := range []int{1, 3} {
		r, closed := c.Rows[i], c.Rows[i-1]
		near(t, r.Variant+" added ms", r.AddedMsP50, r.LatencyMsP50-closed.LatencyMsP50)
		if !r.RAG || closed.RAG {
			t.Errorf("rows %d/%d: RAG flags %v/%v", i-1, i, closed.RAG, r.RAG)
		}
	}
	// Every question carries the four answers side by side, in row order,
	// with its own scores and what each RAG answer cited.
	if len(c.Questions) != 2 {
		t.Fatalf("%d questions in the report, want 2", len(c.Questions))
	}
	q0, q1 := c.Questions[0], c.Questions[1]
	if q0.Question != items[0].Question || q0.References[0] != "巴黎" || len(q0.Passages) != 1 || q0.Passages[0].Source != "a.md" {
		t.Errorf("question 1: %+v", q0)
	}
	var got []string
	for _, a := range q0.Answers {
		got = append(got, a.Variant+"="+a.Answer)
	}
	if want := "base=伦敦,base+RAG=巴黎是法国的首都。[1],tuned=巴黎,tuned+RAG=巴黎 [1]"; strings.Join(got, ",") != want {
		t.Errorf("question 1 answers %s, want %s", strings.Join(got, ","), want)
	}
	near(t, "q1 base F1", q0.Answers[0].F1, 0)
	near(t, "q1 tuned EM", q0.Answers[2].EM, 100)
	if a := q0.Answers[1]; len(a.Citations) != 1 || a.Citations[0] != 1 || len(a.CitedSources) != 1 || a.CitedSources[0] != "a.md" || len(a.InvalidCitations) != 0 {
		t.Errorf("base+RAG on question 1 cited %v (sources %v, invalid %v), want [1] from a.md", a.Citations, a.CitedSources, a.InvalidCitations)
	}
	if a := q1.Answers[1]; len(a.InvalidCitations) != 1 || a.InvalidCitations[0] != 2 || len(a.CitedSources) != 0 {
		t.Errorf("base+RAG on question 2: invalid %v, sources %v; want [2] invalid", a.InvalidCitations, a.CitedSources)
	}
	if a := q1.Answers[0]; a.Citations != nil || a.RougeL != 100 || a.LatencyMs < 0 {
		t.Errorf("closed-book answer to question 2: %+v", a)
	}
	// The per-question F1s average to the row's F1.
	for k, r := range c.Rows {
		near(t, r.Variant+" mean per-question F1", (q0.Answers[k].F1+q1.Answers[k].F1)/2, r.Scores.F1)
	}
	page, err := RenderHTML(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<details class="q">`, "法国的首都是哪里？", "[1] a.md", "[2] no such passage", "巴黎是法国的首都。", "tuned+RAG"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	var buf bytes.Buffer
	if err := WriteCompareTable(&buf, c); err != nil {
		t.Fatal(err)
	}
	// Header, 4 rows, and a footnote for each kind of n/a: no weights (no
	// PPL) and closed-book rows.
	table := buf.String()
	if lines := strings.Count(table, "\n"); lines != 7 {
		t.Errorf("table has %d lines, want header + 4 rows + 2 footnotes:\n%s", lines, table)
	}
	for _, want := range []string{"n/a¹", "n/a²", "¹ answer PPL needs", "² closed-book variants retrieve nothing"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if _, err := RunCompare(context.Background(), CompareConfig{Models: []CompareModel{open("base", base)}, Items: []Item{{ID: "x", Question: "q"}}}); err == nil {
		t.Error("item without answers: no error")
	}
}

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "-"}, {512, "512 B"}, {1536, "1.5 KiB"}, {3 << 30, "3.00 GiB"}} {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{{[]float64{3, 1, 2}, 0.5, 2}, {[]float64{4, 1, 3, 2}, 0.5, 2.5}, {[]float64{7}, 0.5, 7}, {[]float64{1, 2, 3, 4, 5}, 0.9, 4.6}} {
		if got := percentile(tc.xs, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(percentile(nil, 0.5)) {
		t.Error("percentile of nothing is not NaN")
	}
}
