package eval

import (
	"bytes"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"
	"unicode"

	"ragtune/internal/plural"
)

// htmlSection is one block of the page: headline numbers, charts, detail
// tables. Every suite becomes one, built by its own function below.
type htmlSection struct {
	ID, Title, Intro string
	Metrics          []htmlMetric
	Charts           []template.HTML
	Tables           []htmlTable
	// Footnotes explain the n/a marks of the tables above them.
	Footnotes []string
	// Blocks are rendered after the tables (compare's per-question view).
	Blocks []template.HTML
}

type htmlMetric struct{ Name, Value, Hint string }

type htmlTable struct {
	Caption string
	Head    []string
	Rows    [][]string
}

// Collapsed tells the template to fold a long table into a <details>
// element: every row is on the page, a click away.
func (t htmlTable) Collapsed() bool { return len(t.Rows) > maxOpenRows }

// notApplicable marks a table cell with no value, and why (a footnote).
const notApplicable = "n/a"

type htmlPage struct {
	Title    string
	Report   *Report
	Header   [][2]string
	Sections []htmlSection
	Skipped  [][2]string
}

// maxOpenRows is the longest per-item table shown unfolded; longer ones
// (every row kept) open with a click.
const maxOpenRows = 15

// RenderHTML renders a report as one self-contained HTML page: inline CSS
// and SVG, no script, no external resource.
func RenderHTML(r *Report) ([]byte, error) {
	p := htmlPage{Title: "ragtune evaluation report", Report: r}
	if r.Tool == "ragtune compare" {
		p.Title = "ragtune comparison: fine-tuning vs RAG"
	}
	add := func(k, v string) {
		if v != "" {
			p.Header = append(p.Header, [2]string{k, v})
		}
	}
	add("created", r.Created.Format("2006-01-02 15:04:05 UTC"))
	if r.Model != nil {
		add("model", modelLine(r.Model))
	}
	if r.Base != nil {
		add("base", modelLine(r.Base))
	}
	s := r.Settings
	add("generation", fmt.Sprintf("max %d tokens, temperature %g, seed %d%s", s.MaxTokens, s.Temperature, s.Seed, map[bool]string{true: ", thinking disabled"}[s.DisableThinking]))
	if s.KB != "" {
		add("knowledge base", fmt.Sprintf("%s (top %d)", s.KB, s.TopK))
	}
	var data []string
	for k, v := range s.Data {
		if v == "" {
			v = "built-in"
		}
		data = append(data, k+": "+v)
	}
	sort.Strings(data)
	add("data", strings.Join(data, "; "))
	if s.Limit > 0 {
		add("limit", fmt.Sprintf("at most %d items per suite", s.Limit))
	}
	add("thresholds", fmt.Sprintf("right when F1 ≥ %g; sentence supported when ≥ %.0f%% of its terms (Chinese character pairs, other words) are in a passage", s.Thresholds.RightF1, 100*s.Thresholds.Support))
	add("schema", r.Schema)

	if r.Compare != nil {
		p.Sections = append(p.Sections, compareSection(r.Compare))
	}
	if len(r.TrainLog) > 0 {
		p.Sections = append(p.Sections, trainLogSection(r))
	}
	if r.Overfit != nil {
		p.Sections = append(p.Sections, overfitSection(r.Overfit))
	}
	if r.Forgetting != nil {
		p.Sections = append(p.Sections, forgettingSection(r.Forgetting))
	}
	if r.Robustness != nil {
		p.Sections = append(p.Sections, robustnessSection(r.Robustness))
	}
	if r.Hallucination != nil {
		p.Sections = append(p.Sections, hallucinationSection(r.Hallucination))
	}
	if r.Safety != nil {
		p.Sections = append(p.Sections, safetySection(r.Safety))
	}
	for k, v := range r.Skipped {
		p.Skipped = append(p.Skipped, [2]string{k, v})
	}
	sort.Slice(p.Skipped, func(i, j int) bool { return p.Skipped[i][0] < p.Skipped[j][0] })
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("render report.html: %w", err)
	}
	return buf.Bytes(), nil
}

func modelLine(m *ModelInfo) string {
	s := m.Path
	if m.Adapter != "" {
		s += " + adapter " + m.Adapter
	}
	if m.FileBytes > 0 {
		s += " (" + humanBytes(m.FileBytes) + ")"
	}
	if m.Label != "" && m.Label != m.Path {
		s = m.Label + ": " + s
	}
	return s
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

// orDash is s, or n/a where a figure could not be measured (a perplexity
// without the weights in process); the section says why.
func orDash(ok bool, s string) string {
	if !ok {
		return notApplicable
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// clip shortens long model output for the tables.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return '�'
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n]) + "…"
}

func yes(b bool) string {
	if b {
		return "✓"
	}
	return "✗"
}

func compareSection(c *CompareResult) htmlSection {
	sec := htmlSection{ID: "compare", Title: "Fine-tuning vs RAG",
		Intro: fmt.Sprintf("Every variant answers the same %s. Latency is the median per answer, retrieval included; “+ms” is what retrieval adds over the same model without it (the longer prompt included). Peak RSS: %s.", plural.Count(c.Items, "question"), c.PeakRSSMethod)}
	var cats []string
	var em, f, rl, bleu, lat, mem, file []float64
	closedNA, uncited := false, false
	t := htmlTable{Head: []string{"variant", "EM", "F1", "BLEU", "ROUGE-L", "answer PPL", "p50 ms", "retrieval ms", "+ms", "valid citations %", "unsupported %", "file", "peak RSS"}}
	for _, r := range c.Rows {
		cats = append(cats, r.Variant)
		em = append(em, r.Scores.EM)
		f = append(f, r.Scores.F1)
		rl = append(rl, r.Scores.RougeL)
		bleu = append(bleu, r.Scores.BLEU)
		lat = append(lat, r.LatencyMsP50)
		mem = append(mem, float64(r.PeakRSSBytes)/(1<<20))
		file = append(file, float64(r.FileBytes)/(1<<20))
		closedNA = closedNA || !r.RAG
		uncited = uncited || (r.RAG && r.Citations == 0)
		t.Rows = append(t.Rows, []string{r.Variant, f1(r.Scores.EM), f1(r.Scores.F1), f1(r.Scores.BLEU), f1(r.Scores.RougeL),
			orNA(r.AnswerPPL > 0, f2(r.AnswerPPL), "¹"), f1(r.LatencyMsP50), orNA(r.RAG, f2(r.RetrievalMsP50), "²"),
			orNA(r.RAG, fmt.Sprintf("%+.1f", r.AddedMsP50), "²"), citeValidity(r),
			orNA(r.RAG, fmt.Sprintf("%.0f", r.UnsupportedShare), "²"), humanBytes(r.FileBytes), humanBytes(r.PeakRSSBytes)})
	}
	sec.Tables = append(sec.Tables, t)
	for _, r := range c.Rows {
		if r.AnswerPPL <= 0 {
			sec.Footnotes = append(sec.Footnotes, "¹ answer PPL needs the model's weights in this process (a remote or unscored model has none).")
			break
		}
	}
	if closedNA {
		sec.Footnotes = append(sec.Footnotes, "² closed-book variants retrieve nothing: no retrieval time, citations or grounding.")
	}
	if uncited {
		sec.Footnotes = append(sec.Footnotes, "³ no answer of this variant cited a passage as [n], so there is no citation to check; “unsupported %” still judges every sentence against the retrieved passages, cited or not.")
	}
	sec.Charts = append(sec.Charts,
		BarChart("Answer quality", cats, []Series{{"EM", em}, {"F1", f}, {"BLEU", bleu}, {"ROUGE-L", rl}}, "0–100", 100),
		BarChart("Median latency per answer", cats, []Series{{"p50 ms", lat}}, "ms", 0),
		BarChart("Memory", cats, []Series{{"model file MiB", file}, {"peak RSS MiB", mem}}, "MiB", 0))
	if len(c.Questions) > 0 {
		var buf bytes.Buffer
		if err := questionsTemplate.Execute(&buf, compareQuestionViews(c)); err != nil {
			// The template is fixed and its data plain strings: a failure
			// is a bug, shown where the questions would be.
			buf.Reset()
			buf.WriteString(template.HTMLEscapeString("per-question view: " + err.Error()))
		}
		sec.Blocks = append(sec.Blocks, template.HTML(buf.String()))
	}
	return sec
}

// citeValidity is the valid-citation cell of a compare row.
func citeValidity(r CompareRow) string {
	switch {
	case !r.RAG:
		return notApplicable + "²"
	case r.Citations == 0:
		return notApplicable + "³"
	}
	return fmt.Sprintf("%.0f (of %d)", r.CitationValidity, r.Citations)
}

// orNA is s, or n/a with the footnote mark that explains it.
func orNA(ok bool, s, mark string) string {
	if !ok {
		return notApplicable + mark
	}
	return s
}

// questionView is one question of the per-question view.
type questionView struct {
	ID, Question, Short string
	References          []string
	Passages            []Passage
	Answers             []answerView
}

type answerView struct {
	Variant, Answer, Note                  string
	EM, F1, RougeL, PPL, Ms, Cited, Unsupp string
	Best                                   bool // highest F1 of the question
}

func compareQuestionViews(c *CompareResult) []questionView {
	out := make([]questionView, 0, len(c.Questions))
	for _, q := range c.Questions {
		v := questionView{ID: q.ID, Question: q.Question, Short: clip(q.Question, 90), References: q.References, Passages: q.Passages}
		best := -1.0
		for _, a := range q.Answers {
			best = max(best, a.F1)
		}
		for k, a := range q.Answers {
			av := answerView{Variant: a.Variant, Answer: a.Answer, EM: f1(a.EM), F1: f1(a.F1), RougeL: f1(a.RougeL),
				PPL: orNA(a.PPL > 0, f2(a.PPL), ""), Ms: fmt.Sprintf("%.0f", a.LatencyMs), Best: best > 0 && a.F1 == best}
			if a.ThinkingUnclosed {
				av.Note = "no answer: the reasoning never closed (</think> did not come within the token limit)"
			} else if a.Answer == "" {
				av.Note = "empty answer"
			}
			rag := k < len(c.Rows) && c.Rows[k].RAG
			switch {
			case !rag:
				av.Cited, av.Unsupp = notApplicable, notApplicable
			default:
				var parts []string
				for _, n := range a.Citations {
					if n >= 1 && n <= len(q.Passages) {
						parts = append(parts, fmt.Sprintf("[%d] %s", n, q.Passages[n-1].Source))
					} else {
						parts = append(parts, fmt.Sprintf("[%d] no such passage", n))
					}
				}
				av.Cited = "none"
				if len(parts) > 0 {
					av.Cited = strings.Join(slices.Compact(parts), "; ")
				}
				av.Unsupp = fmt.Sprint(len(a.Unsupported))
			}
			v.Answers = append(v.Answers, av)
		}
		out = append(out, v)
	}
	return out
}

var questionsTemplate = template.Must(template.New("questions").Parse(`<h3>Per question</h3>
<p class="intro">Each question folds open to the four answers side by side, the references, and the passages the RAG variants saw (cited ones marked by number). Scores are per answer: EM, F1 and ROUGE-L against the references, PPL of the first reference. The highest F1 of a question is in bold.</p>
<div class="qs">{{range .}}<details class="q"><summary><span class="qid">{{.ID}}</span> {{.Short}}<span class="f1s">{{range .Answers}}<span class="b{{if .Best}} best{{end}}" title="F1 of {{.Variant}}">{{.Variant}} {{.F1}}</span>{{end}}</span></summary>
<p><b>Question</b> {{.Question}}</p>
<p><b>Reference{{if gt (len .References) 1}}s{{end}}</b> {{range $i, $r := .References}}{{if $i}} · {{end}}{{$r}}{{end}}</p>
<table><thead><tr><th>variant</th><th>answer</th><th>EM</th><th>F1</th><th>ROUGE-L</th><th>PPL</th><th>ms</th><th>cited sources</th><th>unsupported sentences</th></tr></thead>
<tbody>{{range .Answers}}<tr{{if .Best}} class="best"{{end}}><td>{{.Variant}}</td><td class="long">{{.Answer}}{{if .Note}}<div class="warn">⚠ {{.Note}}</div>{{end}}</td><td>{{.EM}}</td><td>{{.F1}}</td><td>{{.RougeL}}</td><td>{{.PPL}}</td><td>{{.Ms}}</td><td class="long">{{.Cited}}</td><td>{{.Unsupp}}</td></tr>{{end}}</tbody></table>
{{if .Passages}}<ol class="passages">{{range .Passages}}<li><b>{{.Source}}</b> {{.Text}}</li>{{end}}</ol>{{end}}
</details>
{{end}}</div>`))

func trainLogSection(r *Report) htmlSection {
	var loss, val Line
	loss.Name, val.Name = "training loss", "validation loss"
	for _, e := range r.TrainLog {
		if e.Loss > 0 {
			loss.X = append(loss.X, float64(e.Step))
			loss.Y = append(loss.Y, e.Loss)
		}
		if e.ValLoss > 0 {
			val.X = append(val.X, float64(e.Step))
			val.Y = append(val.Y, e.ValLoss)
		}
	}
	var lines []Line
	for _, l := range []Line{loss, val} {
		if len(l.X) > 0 {
			lines = append(lines, l)
		}
	}
	sec := htmlSection{ID: "train", Title: "Training curve", Intro: "Loss per step from train_log.jsonl; a validation loss that rises while the training loss falls is overfitting."}
	if c := LineChart("Loss (nats per token)", "step", lines); c != "" {
		sec.Charts = append(sec.Charts, c)
	}
	return sec
}

func overfitSection(o *OverfitResult) htmlSection {
	sec := htmlSection{ID: "overfit", Title: "Overfitting",
		Intro: fmt.Sprintf("%s and %s. Perplexity is answer-only: the reference answer's tokens after the question, through the chat template. Overlap scores compare greedy answers with the references.", plural.Count(o.TrainItems, "training item"), plural.Count(o.ValidationItems, "held-out item"))}
	hasPPL := o.TrainPPL > 0
	sec.Metrics = []htmlMetric{
		{"validation / train PPL", orDash(hasPPL, f2(o.PPLRatio)), "1.00 = no gap"},
		{"train PPL", orDash(hasPPL, f2(o.TrainPPL)), ""},
		{"validation PPL", orDash(hasPPL, f2(o.ValidationPPL)), ""},
		{"ROUGE-L gap", f1(o.Train.RougeL - o.Validation.RougeL), "train − validation"},
	}
	cats := []string{"EM", "F1", "BLEU", "ROUGE-1", "ROUGE-2", "ROUGE-L"}
	vals := func(s TextScores) []float64 { return []float64{s.EM, s.F1, s.BLEU, s.Rouge1, s.Rouge2, s.RougeL} }
	sec.Charts = append(sec.Charts, BarChart("Generated answers vs references", cats, []Series{{"train", vals(o.Train)}, {"validation", vals(o.Validation)}}, "0–100", 100))
	if hasPPL {
		sec.Charts = append(sec.Charts, BarChart("Answer perplexity", []string{"train", "validation"}, []Series{{"PPL", []float64{o.TrainPPL, o.ValidationPPL}}}, "PPL", 0))
	}
	t := htmlTable{Caption: "Items", Head: []string{"id", "split", "question", "reference", "answer", "F1", "PPL"}}
	for _, it := range o.Items {
		t.Rows = append(t.Rows, []string{it.ID, it.Split, clip(it.Question, 200), clip(it.Reference, 200), orEmpty(clip(it.Answer, 200)), f1(it.F1), orNA(it.PPL > 0, f2(it.PPL), "")})
	}
	sec.Tables = append(sec.Tables, t)
	return sec
}

func forgettingSection(f *ForgettingResult) htmlSection {
	sec := htmlSection{ID: "forgetting", Title: "Catastrophic forgetting",
		Intro: fmt.Sprintf("%s scored on the base and the tuned model. An item with choices is right when the reference has the lowest answer perplexity among them; otherwise when the greedy answer's F1 reaches the threshold.", plural.Count(f.Items, "general-knowledge item"))}
	hasPPL := f.BasePPL > 0
	sec.Metrics = []htmlMetric{
		{"right → wrong", fmt.Sprint(f.RightToWrong), "forgotten items"},
		{"wrong → right", fmt.Sprint(f.WrongToRight), ""},
		{"PPL ratio tuned / base", orDash(hasPPL, f2(f.PPLRatio)), "> 1: general answers became less likely"},
		{"accuracy", fmt.Sprintf("%.0f%% → %.0f%%", f.BaseAccuracy, f.TunedAccuracy), "base → tuned"},
	}
	sec.Charts = append(sec.Charts, BarChart("Base vs tuned", []string{"accuracy %", "F1", "ROUGE-L"},
		[]Series{{"base", []float64{f.BaseAccuracy, f.Base.F1, f.Base.RougeL}}, {"tuned", []float64{f.TunedAccuracy, f.Tuned.F1, f.Tuned.RougeL}}}, "0–100", 100))
	if hasPPL {
		sec.Charts = append(sec.Charts, BarChart("General-knowledge answer perplexity", []string{"base", "tuned"}, []Series{{"PPL", []float64{f.BasePPL, f.TunedPPL}}}, "PPL", 0))
	}
	t := htmlTable{Caption: "Items (flips first)", Head: []string{"id", "question", "reference", "method", "base", "tuned", "flip", "base answer", "tuned answer"}}
	items := append([]ForgettingItem(nil), f.PerItem...)
	sort.SliceStable(items, func(i, j int) bool { return items[i].Flip != "" && items[j].Flip == "" })
	for _, it := range items {
		t.Rows = append(t.Rows, []string{it.ID, clip(it.Question, 200), clip(it.Reference, 200), it.Method, yes(it.BaseRight), yes(it.TunedRight), it.Flip, orEmpty(clip(it.BaseAnswer, 200)), orEmpty(clip(it.TunedAnswer, 200))})
	}
	sec.Tables = append(sec.Tables, t)
	return sec
}

func robustnessSection(r *RobustnessResult) htmlSection {
	sec := htmlSection{ID: "robustness", Title: "Robustness",
		Intro: fmt.Sprintf("%s, %s (typos, full/half width, punctuation, an irrelevant prefix, number formats, paraphrase templates). Agreement: the perturbed answer equals the clean one after folding case, width, spaces and punctuation.", plural.Count(r.Items, "question"), plural.Count(r.Perturbations, "perturbed version"))}
	sec.Metrics = []htmlMetric{
		{"agreement", fmt.Sprintf("%.0f%%", r.Agreement), "same answer as the clean question"},
		{"ROUGE-L vs clean answer", f1(r.RougeL), ""},
		{"accuracy", fmt.Sprintf("%.0f%% → %.0f%%", r.CleanAccuracy, r.PerturbedAccuracy), "clean → perturbed"},
		{"accuracy drop", fmt.Sprintf("%.1f points", r.AccuracyDrop), ""},
	}
	var cats []string
	var ag, rl, acc []float64
	t := htmlTable{Caption: "Per perturbation", Head: []string{"kind", "n", "agreement %", "ROUGE-L", "accuracy %", "drop"}}
	for _, k := range r.PerKind {
		cats = append(cats, k.Kind)
		ag = append(ag, k.Agreement)
		rl = append(rl, k.RougeL)
		acc = append(acc, k.Accuracy)
		t.Rows = append(t.Rows, []string{k.Kind, fmt.Sprint(k.N), f1(k.Agreement), f1(k.RougeL), f1(k.Accuracy), f1(k.AccuracyDrop)})
	}
	sec.Charts = append(sec.Charts, BarChart("Consistency by perturbation", cats, []Series{{"agreement %", ag}, {"ROUGE-L", rl}, {"accuracy %", acc}}, "0–100", 100))
	sec.Tables = append(sec.Tables, t)
	cases := htmlTable{Caption: "Examples", Head: []string{"id", "kind", "perturbed question", "answer", "clean answer", "agree"}}
	for _, c := range r.Cases {
		cases.Rows = append(cases.Rows, []string{c.ID, c.Kind, clip(c.Question, 60), clip(c.Answer, 40), clip(c.CleanAnswer, 40), yes(c.Agree)})
	}
	sec.Tables = append(sec.Tables, cases)
	return sec
}

func hallucinationSection(h *HallucinationResult) htmlSection {
	sec := htmlSection{ID: "hallucination", Title: "Hallucination",
		Intro: fmt.Sprintf("%s answered closed-book and, with a knowledge base, from retrieved passages with [n] citations. A sentence counts as supported when enough of its terms (Chinese character pairs, other words) occur in a retrieved passage.", plural.Count(h.Items, "question"))}
	sec.Metrics = []htmlMetric{{"closed-book F1", f1(h.ClosedBook.F1), fmt.Sprintf("EM %.1f", h.ClosedBook.EM)}}
	if g := h.RAG; g != nil {
		sec.Metrics = append(sec.Metrics,
			htmlMetric{"unsupported sentences", fmt.Sprintf("%.0f%%", g.UnsupportedShare), "of " + plural.Count(g.Sentences, "sentence") + " judged"},
			citationsMetric(g.CitationValidity, g.Citations),
			htmlMetric{"RAG F1", f1(g.Scores.F1), fmt.Sprintf("EM %.1f", g.Scores.EM)})
		sec.Charts = append(sec.Charts,
			BarChart("Closed-book vs RAG", []string{"EM", "F1", "ROUGE-L"}, []Series{{"closed-book", []float64{h.ClosedBook.EM, h.ClosedBook.F1, h.ClosedBook.RougeL}}, {"RAG", []float64{g.Scores.EM, g.Scores.F1, g.Scores.RougeL}}}, "0–100", 100),
			BarChart("Grounding of RAG answers", []string{"valid citations", "citations supported", "unsupported sentences", "uncited answers"}, []Series{{"%", []float64{g.CitationValidity, g.CitationSupport, g.UnsupportedShare, g.UncitedAnswers}}}, "%", 100))
	}
	t := htmlTable{Caption: "Answers", Head: []string{"id", "closed-book answer", "F1", "RAG answer", "citations", "unsupported sentences"}}
	for _, c := range h.Cases {
		cites := make([]string, len(c.Citations))
		for i, n := range c.Citations {
			cites[i] = fmt.Sprint(n)
		}
		t.Rows = append(t.Rows, []string{c.ID, orEmpty(clip(c.ClosedBook, 200)), f1(c.ClosedF1), orEmpty(clip(c.RAGAnswer, 200)), orNone(strings.Join(cites, ", ")), fmt.Sprint(len(c.Unsupported))})
	}
	sec.Tables = append(sec.Tables, t)
	return sec
}

// citationsMetric is the valid-citation card: n/a, said plainly, when no
// answer cited anything.
func citationsMetric(validity float64, n int) htmlMetric {
	if n == 0 {
		return htmlMetric{"valid citations", notApplicable, "no answer cited a passage as [n]"}
	}
	return htmlMetric{"valid citations", fmt.Sprintf("%.0f%%", validity), "of " + plural.Count(n, "citation")}
}

// orEmpty shows an empty model answer as such instead of a blank cell.
func orEmpty(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

func safetySection(s *SafetyResult) htmlSection {
	sec := htmlSection{ID: "safety", Title: "Safety",
		Intro: fmt.Sprintf("%s (harmful requests and benign controls) judged by the guard policy: unsafe = not a refusal and carrying lexicon terms.", plural.Count(s.Probes, "probe prompt"))}
	sec.Metrics = []htmlMetric{
		{"unsafe outputs", fmt.Sprintf("%.0f%%", 100*s.UnsafeRate), fmt.Sprintf("%d of %d", s.Unsafe, s.Probes)},
		{"refusal rate", fmt.Sprintf("%.0f%%", 100*s.RefusalRate), "of harmful probes; higher is safer"},
		{"over-refusal", fmt.Sprintf("%.0f%%", 100*s.OverRefusalRate), "of benign controls; lower is better"},
		{"PII leaks", fmt.Sprint(s.PIILeaks), ""},
	}
	sec.Charts = append(sec.Charts, BarChart("Safety rates", []string{"unsafe", "refusal", "over-refusal"}, []Series{{"%", []float64{100 * s.UnsafeRate, 100 * s.RefusalRate, 100 * s.OverRefusalRate}}}, "%", 100))
	var cats []string
	for c := range s.PerCategory {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	t := htmlTable{Caption: "Per category", Head: []string{"category", "probes", "unsafe", "refused", "unsafe %", "refusal %"}}
	for _, c := range cats {
		r := s.PerCategory[c]
		t.Rows = append(t.Rows, []string{c, fmt.Sprint(r.Probes), fmt.Sprint(r.Unsafe), fmt.Sprint(r.Refused), f1(100 * r.UnsafeRate), f1(100 * r.RefusalRate)})
	}
	sec.Tables = append(sec.Tables, t)
	return sec
}

// longCell marks table cells that may wrap (model output, questions);
// short ones (ids, numbers) stay on one line.
func longCell(s string) bool { return runeLen(s) > 14 }

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{"long": longCell}).Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
:root { --ink: #1d2330; --muted: #5c6475; --line: #d8dce4; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 14px/1.5 "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
p.intro { color: var(--muted); margin: 4px 0 12px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
td { white-space: nowrap; }
td.long { white-space: normal; overflow-wrap: anywhere; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
table.meta th { width: 140px; background: none; color: var(--muted); font-weight: normal; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; margin: 8px 0 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: var(--bg); }
.card .v { font-size: 20px; font-weight: 700; }
.card .n { font-size: 12px; color: var(--muted); }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
svg.chart { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg .ct { font-size: 14px; font-weight: 600; fill: var(--ink); }
svg .unit { font-size: 11px; font-weight: normal; fill: var(--muted); }
svg .tick, svg .leg { font-size: 11px; fill: var(--muted); }
svg .cat { font-size: 12px; fill: var(--ink); }
svg .val { font-size: 10.5px; fill: var(--ink); }
svg .grid { stroke: #eceef2; }
svg .axis { stroke: var(--ink); }
.skipped { color: var(--muted); }
p.note { border-left: 4px solid #e08a2e; padding: 6px 10px; background: #fdf3e7; }
p.foot { color: var(--muted); font-size: 12px; margin: 2px 0; }
details.rows > summary, details.q > summary { cursor: pointer; padding: 4px 0; }
details.rows > summary { font-weight: 600; }
h3 { font-size: 15px; margin: 20px 0 4px; }
.qs details.q { border-bottom: 1px solid var(--line); }
.qs details.q[open] { background: var(--bg); padding: 0 8px 8px; }
.qs .qid { color: var(--muted); font-size: 12px; margin-right: 4px; }
.qs .f1s { float: right; }
.qs .b { font-size: 11px; color: var(--muted); margin-left: 8px; white-space: nowrap; }
.qs .b.best, .qs tr.best td:first-child { font-weight: 700; color: var(--ink); }
.qs .warn { color: #a4520b; font-size: 12px; }
ol.passages { font-size: 12px; color: var(--muted); margin: 4px 0; padding-left: 22px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print {
  main { max-width: none; padding: 0; }
  section { break-inside: avoid-page; }
  svg.chart, table { break-inside: avoid; }
  .card { background: none; }
  details > :not(summary) { display: block; }
}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<table class="meta">{{range .Header}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{range .Report.Notes}}<p class="note">⚠ {{.}}</p>{{end}}
{{range .Sections}}
<section id="{{.ID}}">
<h2>{{.Title}}</h2>
<p class="intro">{{.Intro}}</p>
{{if .Metrics}}<div class="cards">{{range .Metrics}}<div class="card"><div class="n">{{.Name}}</div><div class="v">{{.Value}}</div>{{if .Hint}}<div class="n">{{.Hint}}</div>{{end}}</div>{{end}}</div>{{end}}
{{if .Charts}}<div class="charts">{{range .Charts}}{{.}}{{end}}</div>{{end}}
{{range .Tables}}{{if .Collapsed}}<details class="rows"><summary>{{if .Caption}}{{.Caption}}: {{end}}{{len .Rows}} rows</summary>{{end}}<table>{{if and .Caption (not .Collapsed)}}<caption>{{.Caption}}</caption>{{end}}
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td{{if long .}} class="long"{{end}}>{{.}}</td>{{end}}</tr>{{end}}</tbody></table>{{if .Collapsed}}</details>{{end}}{{end}}
{{range .Footnotes}}<p class="foot">{{.}}</p>{{end}}
{{range .Blocks}}{{.}}{{end}}
</section>
{{end}}
{{if .Skipped}}<section id="skipped"><h2>Not run</h2><ul class="skipped">{{range .Skipped}}<li><b>{{index . 0}}</b>: {{index . 1}}</li>{{end}}</ul></section>{{end}}
<footer>Written by {{.Report.Tool}}{{if .Report.Version}} {{.Report.Version}}{{end}}; every number is in report.json next to this file ({{.Report.Schema}}).</footer>
</main>
</body>
</html>
`))
