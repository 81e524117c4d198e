package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"ragtune/internal/bytesize"
	"ragtune/internal/rss"
	"ragtune/rag"
	"ragtune/train/data"
)

// CompareModel is one model of a comparison, opened only while its rows
// run so that the peak memory of each is measured on its own.
type CompareModel struct {
	Label string
	Open  func() (*Model, error)
}

// CompareConfig is one `ragtune compare` run: every model answers every
// item closed-book and, with a retriever, again with the retrieved passages.
type CompareConfig struct {
	Models    []CompareModel
	Items     []Item
	Retriever Retriever // nil: closed-book rows only
	KBName    string
	DataPath  string
	TopK      int
	Gen       GenOptions
	Threshold Thresholds
	Progress  io.Writer
}

// CompareResult is the fine-tuning vs RAG table.
type CompareResult struct {
	Items int          `json:"items"`
	TopK  int          `json:"top_k,omitempty"`
	Rows  []CompareRow `json:"rows"`
	// PeakRSSMethod says how PeakRSSBytes was measured.
	PeakRSSMethod string `json:"peak_rss_method"`
	// Questions holds every question with each variant's answer, in
	// the order of Rows, so the totals can be checked answer by answer.
	Questions []CompareQuestion `json:"questions"`
}

// CompareQuestion is one question as every variant answered it.
type CompareQuestion struct {
	ID         string   `json:"id"`
	Question   string   `json:"question"`
	References []string `json:"references"`
	// Passages are what the RAG variants retrieved, numbered from 1 as
	// in their prompt (so [2] cites Passages[1]).
	Passages []Passage       `json:"passages,omitempty"`
	Answers  []CompareAnswer `json:"answers"`
}

// CompareAnswer is one variant's answer to one question and its scores.
type CompareAnswer struct {
	Variant string `json:"variant"`
	// Answer is the text as generated, citation markers included (they
	// are removed before scoring).
	Answer string `json:"answer"`
	// ThinkingUnclosed: the answer is empty because the reasoning never
	// closed (max tokens reached inside <think>).
	ThinkingUnclosed bool    `json:"thinking_unclosed,omitempty"`
	EM               float64 `json:"em"`
	F1               float64 `json:"f1"`
	RougeL           float64 `json:"rougeL"`
	// PPL is the answer-only perplexity of the first reference given
	// this variant's prompt (0: not measured).
	PPL       float64 `json:"ppl,omitempty"`
	LatencyMs float64 `json:"latency_ms"`
	// Citations are the [n] numbers in the answer, in order; Invalid
	// those with no such passage; CitedSources the sources of the valid
	// ones, without repeats.
	Citations        []int    `json:"citations,omitempty"`
	InvalidCitations []int    `json:"invalid_citations,omitempty"`
	CitedSources     []string `json:"cited_sources,omitempty"`
	// Unsupported are the answer's sentences that no passage supports
	// (RAG variants only).
	Unsupported []string `json:"unsupported,omitempty"`
}

// CompareRow is one variant: a model with or without retrieval.
type CompareRow struct {
	Variant string `json:"variant"` // "base", "base+RAG", "tuned", "tuned+RAG"
	Model   string `json:"model"`
	RAG     bool   `json:"rag"`
	// Scores of the generated answers against the references.
	Scores TextScores `json:"scores"`
	// AnswerPPL is the answer-only perplexity of the references given the
	// same prompt the variant answers (0 without weights in process).
	AnswerPPL float64 `json:"answer_ppl"`
	// LatencyMsP50 is the median wall time per answer, retrieval included.
	// Answers generated together (Model.Parallel > 1) share the engine's
	// steps, so this is the latency under that many concurrent requests.
	LatencyMsP50 float64 `json:"latency_ms_p50"`
	// RetrievalMsP50 is the median retrieval time alone; AddedMsP50 is
	// LatencyMsP50 minus the same model's closed-book median: what
	// retrieval costs per answer, longer prompt included.
	RetrievalMsP50 float64 `json:"retrieval_ms_p50,omitempty"`
	AddedMsP50     float64 `json:"added_ms_p50,omitempty"`
	// Grounding of RAG answers (see RAGGrounding); CitationValidity is
	// meaningless when Citations is 0.
	Citations        int     `json:"citations,omitempty"`
	CitationValidity float64 `json:"citation_validity,omitempty"`
	UnsupportedShare float64 `json:"unsupported_share,omitempty"`
	// FileBytes is the weights on disk; PeakRSSBytes the process's peak
	// resident memory while this model was loaded and answering.
	FileBytes    int64 `json:"file_bytes"`
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

// RunCompare measures every model closed-book and with retrieval.
func RunCompare(ctx context.Context, cfg CompareConfig) (*Report, error) {
	if len(cfg.Models) == 0 {
		return nil, fmt.Errorf("compare: no models")
	}
	if len(cfg.Items) == 0 {
		return nil, fmt.Errorf("compare: no items")
	}
	for _, it := range cfg.Items {
		if len(it.Answers) == 0 {
			return nil, fmt.Errorf("compare item %s has no reference answer (field \"answers\")", it.ID)
		}
	}
	th := cfg.Threshold.withDefaults()
	topK := cfg.TopK
	if topK <= 0 {
		topK = 3
	}
	rep := newReport("ragtune compare")
	rep.Settings = Settings{
		Data: map[string]string{"compare": cfg.DataPath}, KB: cfg.KBName, TopK: topK, MaxTokens: cfg.Gen.MaxTokens,
		Temperature: cfg.Gen.Temperature, Seed: cfg.Gen.Seed, DisableThinking: cfg.Gen.DisableThinking, Thresholds: th,
	}
	if rep.Settings.MaxTokens <= 0 {
		rep.Settings.MaxTokens = 128
	}
	res := &CompareResult{Items: len(cfg.Items), PeakRSSMethod: rss.Method}
	if cfg.Retriever != nil {
		res.TopK = topK
	}
	res.Questions = make([]CompareQuestion, len(cfg.Items))
	for i, it := range cfg.Items {
		res.Questions[i] = CompareQuestion{ID: it.ID, Question: it.Question, References: it.Answers}
	}
	// Retrieve once: every model sees the same passages, and the time is
	// measured without a model competing for the cores.
	passages := make([][]Passage, len(cfg.Items))
	var retrMs []float64
	if cfg.Retriever != nil {
		for i, it := range cfg.Items {
			t0 := time.Now()
			ps, err := cfg.Retriever.Retrieve(ctx, it.Question, topK)
			if err != nil {
				return nil, fmt.Errorf("retrieve for item %s: %w", it.ID, err)
			}
			retrMs = append(retrMs, ms(time.Since(t0)))
			passages[i] = ps
			res.Questions[i].Passages = ps
		}
	}
	variants := 1
	if cfg.Retriever != nil {
		variants = 2
	}
	cfg.Gen.stats = &genStats{}
	for mi, cm := range cfg.Models {
		rss.ResetPeak()
		m, err := cm.Open()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cm.Label, err)
		}
		if m.Label == "" {
			m.Label = cm.Label
		}
		if mi == 0 {
			rep.Base = m.info()
		} else {
			rep.Model = m.info()
		}
		pr := newProgress(cfg.Progress, "compare "+cm.Label, variants*len(cfg.Items))
		closed, err := compareRow(ctx, m, cfg.Items, nil, nil, cfg.Gen, th, pr, res.Questions)
		if err == nil && cfg.Retriever != nil {
			var rag CompareRow
			rag, err = compareRow(ctx, m, cfg.Items, passages, retrMs, cfg.Gen, th, pr, res.Questions)
			rag.AddedMsP50 = rag.LatencyMsP50 - closed.LatencyMsP50
			closed.PeakRSSBytes = rss.Peak()
			rag.PeakRSSBytes = closed.PeakRSSBytes
			res.Rows = append(res.Rows, closed, rag)
		} else {
			closed.PeakRSSBytes = rss.Peak()
			res.Rows = append(res.Rows, closed)
		}
		m.Close()
		if err != nil {
			return nil, err
		}
	}
	rep.Compare = res
	if n := cfg.Gen.stats.note(); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	return rep, nil
}

// compareRow answers every item with one model, with the passages in the
// prompt when passages is not nil, and appends each answer to its question.
func compareRow(ctx context.Context, m *Model, items []Item, passages [][]Passage, retrMs []float64, g GenOptions, th Thresholds, pr *progress, qs []CompareQuestion) (CompareRow, error) {
	row := CompareRow{Variant: m.name(), Model: m.Path, FileBytes: m.FileBytes, RAG: passages != nil}
	if row.RAG {
		row.Variant += "+RAG"
	}
	var sc *Scorer
	if m.Net != nil {
		sc = NewScorer(m.Net, scorerContext)
	}
	preds := make([]string, len(items))
	var lat []float64
	var ppl Perplexity
	var tot grounding
	prompts := make([]string, len(items))
	for i, it := range items {
		prompts[i] = it.Question
		if row.RAG {
			prompts[i] = rag.Prompt(it.Question, passages[i], rag.PromptOptions{Lang: it.Lang})
		}
	}
	g, stop := g.prefetch(ctx, m, prompts)
	defer stop()
	for i, it := range items {
		prompt := prompts[i]
		res, d, err := generate(ctx, m, g, prompt)
		if err != nil {
			return row, err
		}
		ans := strings.TrimSpace(res.Text)
		// Citation markers are not part of the answer's content.
		preds[i] = rag.StripCitations(ans)
		total := ms(d)
		ca := CompareAnswer{Variant: row.Variant, Answer: ans, ThinkingUnclosed: res.ThinkingUnclosed}
		if row.RAG {
			total += retrMs[i]
			gr := judgeGrounding(ans, passages[i], th)
			tot.citations += gr.citations
			tot.valid += gr.valid
			tot.sentences += gr.sentences
			tot.unsupported += gr.unsupported
			ca.Citations, ca.Unsupported = gr.cited, gr.unsupportedText
			for _, n := range gr.cited {
				if n < 1 || n > len(passages[i]) {
					ca.InvalidCitations = append(ca.InvalidCitations, n)
				} else if src := passages[i][n-1].Source; !slices.Contains(ca.CitedSources, src) {
					ca.CitedSources = append(ca.CitedSources, src)
				}
			}
		}
		lat = append(lat, total)
		ca.LatencyMs = total
		if sc != nil {
			lp, err := answerLogProbs(sc, m, prompt, it.Answers[0])
			switch {
			case errors.Is(err, data.ErrTooLong):
				// A prompt longer than the scorer's context is left out.
			case err != nil:
				return row, fmt.Errorf("item %s: %w", it.ID, err)
			default:
				// The total adds every token in turn, as before per-answer
				// figures existed, so its rounding is unchanged.
				var p Perplexity
				if err := errors.Join(p.Add(lp...), ppl.Add(lp...)); err != nil {
					return row, err
				}
				ca.PPL = finite(p.Value())
			}
		}
		if err := scoreAnswer(&ca, it, preds[i]); err != nil {
			return row, err
		}
		qs[i].Answers = append(qs[i].Answers, ca)
		pr.step()
	}
	var err error
	if row.Scores, err = scoreTexts(items, preds); err != nil {
		return row, err
	}
	if ppl.Tokens > 0 {
		row.AnswerPPL = finite(ppl.Value())
	}
	row.LatencyMsP50 = finite(percentile(lat, 0.5))
	if row.RAG {
		row.RetrievalMsP50 = finite(percentile(retrMs, 0.5))
		row.Citations = tot.citations
		if tot.citations > 0 {
			row.CitationValidity = 100 * float64(tot.valid) / float64(tot.citations)
		}
		if tot.sentences > 0 {
			row.UnsupportedShare = 100 * float64(tot.unsupported) / float64(tot.sentences)
		}
	}
	return row, nil
}

// scoreAnswer sets one answer's EM, F1 and ROUGE-L against the item's
// references, as scoreTexts scores them over all items.
func scoreAnswer(ca *CompareAnswer, it Item, pred string) error {
	pred = dropControl(pred)
	refs := make([]string, len(it.Answers))
	for k, a := range it.Answers {
		refs[k] = dropControl(a)
	}
	it.Answers = refs
	em, f1 := qaScore(it, pred)
	ca.EM, ca.F1 = finite(em), finite(f1)
	r, err := rougeScorer.ScoreMulti(refs, pred)
	if err != nil {
		return fmt.Errorf("score item %s: %w", it.ID, err)
	}
	ca.RougeL = 100 * r["rougeL"].F
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteCompareTable prints the comparison as an aligned text table, with a
// footnote under it for each kind of n/a it shows.
func WriteCompareTable(w io.Writer, r *CompareResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tEM\tF1\tBLEU\tROUGE-L\tanswer PPL\tp50 ms\tretrieval ms\t+ms vs closed\tcite valid %\tunsupported %\tfile\tpeak RSS\t")
	var noPPL, closed, uncited bool
	for _, row := range r.Rows {
		opt := func(ok bool, v float64, f, mark string) string {
			if !ok {
				return "n/a" + mark
			}
			return fmt.Sprintf(f, v)
		}
		noPPL = noPPL || row.AnswerPPL <= 0
		closed = closed || !row.RAG
		cite := opt(row.RAG, row.CitationValidity, "%.0f", "²")
		if row.RAG && row.Citations == 0 {
			cite, uncited = "n/a³", true
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			row.Variant, row.Scores.EM, row.Scores.F1, row.Scores.BLEU, row.Scores.RougeL,
			opt(row.AnswerPPL > 0, row.AnswerPPL, "%.2f", "¹"), row.LatencyMsP50,
			opt(row.RAG, row.RetrievalMsP50, "%.2f", "²"), opt(row.RAG, row.AddedMsP50, "%+.1f", "²"),
			cite, opt(row.RAG, row.UnsupportedShare, "%.0f", "²"),
			humanBytes(row.FileBytes), humanBytes(row.PeakRSSBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range []struct {
		on   bool
		text string
	}{
		{noPPL, "¹ answer PPL needs the model's weights in this process"},
		{closed, "² closed-book variants retrieve nothing: no retrieval time, citations or grounding"},
		{uncited, "³ no answer cited a passage as [n], so there is no citation to check; unsupported % still judges every sentence against the passages"},
	} {
		if n.on {
			if _, err := fmt.Fprintln(w, n.text); err != nil {
				return err
			}
		}
	}
	return nil
}

// humanBytes formats a size as every ragtune report does, "-" for 0
// (unknown: no file, or no peak RSS on this system).
func humanBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return bytesize.Format(n)
}
