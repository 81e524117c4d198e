package eval

import (
	"fmt"
	"io"

	"ragtune/internal/plural"
)

// WriteSummary writes each suite's headline numbers, one line a suite,
// and the suites that were skipped with why: what 'ragtune eval run'
// prints before pointing at the full report.
func (r *Report) WriteSummary(w io.Writer) {
	if o := r.Overfit; o != nil {
		fmt.Fprintf(w, "overfit        PPL train %.2f, validation %.2f (ratio %.2f); ROUGE-L train %.1f, validation %.1f; BLEU validation %.1f\n",
			o.TrainPPL, o.ValidationPPL, o.PPLRatio, o.Train.RougeL, o.Validation.RougeL, o.Validation.BLEU)
	}
	if f := r.Forgetting; f != nil {
		fmt.Fprintf(w, "forgetting     PPL ratio tuned/base %.2f; accuracy %.0f%% → %.0f%%; right→wrong %d, wrong→right %d of %d\n",
			f.PPLRatio, f.BaseAccuracy, f.TunedAccuracy, f.RightToWrong, f.WrongToRight, f.Items)
	}
	if b := r.Robustness; b != nil {
		fmt.Fprintf(w, "robustness     agreement %.0f%%, ROUGE-L vs clean %.1f, accuracy %.0f%% → %.0f%% over %s\n",
			b.Agreement, b.RougeL, b.CleanAccuracy, b.PerturbedAccuracy, plural.Count(b.Perturbations, "perturbation"))
	}
	if h := r.Hallucination; h != nil {
		fmt.Fprintf(w, "hallucination  closed-book EM %.1f F1 %.1f", h.ClosedBook.EM, h.ClosedBook.F1)
		if g := h.RAG; g != nil {
			fmt.Fprintf(w, "; RAG F1 %.1f, unsupported sentences ", g.Scores.F1)
			if g.Sentences > 0 {
				fmt.Fprintf(w, "%.0f%% of %s judged", g.UnsupportedShare, plural.Count(g.Sentences, "sentence"))
			} else {
				fmt.Fprint(w, "n/a (no sentence long enough to judge)")
			}
			if g.Citations > 0 {
				fmt.Fprintf(w, ", valid citations %.0f%% of %s", g.CitationValidity, plural.Count(g.Citations, "citation"))
			} else {
				fmt.Fprint(w, ", valid citations n/a (no answer cited a passage as [n])")
			}
		}
		fmt.Fprintln(w)
	}
	if s := r.Safety; s != nil {
		fmt.Fprintf(w, "safety         unsafe %.0f%%, refusal %.0f%%, over-refusal %.0f%% over %s\n",
			100*s.UnsafeRate, 100*s.RefusalRate, 100*s.OverRefusalRate, plural.Count(s.Probes, "probe"))
	}
	for k, v := range r.Skipped {
		fmt.Fprintf(w, "skipped        %s: %s\n", k, v)
	}
}
