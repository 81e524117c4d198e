package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReportEndToEnd runs every suite on the tiny model (real engine and
// weights, so perplexities are measured), writes the report and checks
// both files.
func TestReportEndToEnd(t *testing.T) {
	tuned, err := LoadModel(tinyDir(t, 3), "", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tuned.Close()
	base, err := LoadModel(tinyDir(t, 4), "", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	tuned.Label, base.Label = "tuned", "base"
	logPath := filepath.Join(t.TempDir(), "train_log.jsonl")
	log := `{"step":1,"epoch":0.1,"loss":3.2,"elapsed_s":1}
{"step":2,"epoch":0.2,"loss":2.9,"elapsed_s":2}
{"step":3,"epoch":0.3,"loss":2.5,"val_loss":2.8,"elapsed_s":3}
`
	if err := os.WriteFile(logPath, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := RunSuites(context.Background(), SuiteConfig{
		Model: tuned, Base: base, Limit: 4, Gen: GenOptions{MaxTokens: 6}, TrainLog: logPath, TopK: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteReport(dir, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Schema != ReportSchema || got.Overfit == nil || got.Forgetting == nil || got.Robustness == nil ||
		got.Hallucination == nil || got.Hallucination.RAG == nil || got.Safety == nil || len(got.TrainLog) != 3 {
		t.Fatalf("report misses parts: %s", b[:min(len(b), 600)])
	}
	if got.Overfit.TrainPPL <= 1 || got.Forgetting.BasePPL <= 1 || got.Forgetting.TunedPPL <= 1 {
		t.Errorf("perplexities not measured: overfit train %v, forgetting base %v tuned %v", got.Overfit.TrainPPL, got.Forgetting.BasePPL, got.Forgetting.TunedPPL)
	}
	if got.Overfit.TrainItems != 2 || got.Overfit.ValidationItems != 2 || got.Forgetting.Items != 4 || got.Safety.Probes != 4 {
		t.Errorf("--limit 4 not honoured: %d+%d overfit, %d forgetting, %d probes", got.Overfit.TrainItems, got.Overfit.ValidationItems, got.Forgetting.Items, got.Safety.Probes)
	}
	for _, it := range got.Forgetting.PerItem {
		if it.Method != "choice-ppl" {
			t.Errorf("forgetting item %s judged by %s, want choice-ppl (the built-in items have choices)", it.ID, it.Method)
		}
	}
	h, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(h)
	for _, want := range []string{"<svg", "<polyline", "Overfitting", "Catastrophic forgetting", "Robustness", "Hallucination", "Safety", "Training curve"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// Self-contained: nothing to fetch.
	if m := regexp.MustCompile(`(?i)(src=|href=|@import|url\(|<script|<link)`).FindString(page); m != "" {
		t.Errorf("report.html references an external resource: %q", m)
	}
	if st, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("report.html mode %v, err %v; want 0644", st.Mode().Perm(), err)
	}
}

// TestReportLabels: figures that cannot exist say n/a with the reason,
// per-item tables keep every row with the question and the reference,
// and counts agree with their nouns.
func TestReportLabels(t *testing.T) {
	var overfit []ItemScore
	for i := range 20 {
		overfit = append(overfit, ItemScore{ID: fmt.Sprint(i), Split: "train", Question: fmt.Sprintf("question %d?", i), Reference: fmt.Sprintf("reference %d", i), F1: 50})
	}
	rep := &Report{
		Schema: ReportSchema, Tool: "ragtune compare",
		Compare: &CompareResult{Items: 1, Rows: []CompareRow{
			{Variant: "base", AnswerPPL: 3},
			{Variant: "base+RAG", RAG: true, AnswerPPL: 3, UnsupportedShare: 100},
		}},
		Overfit:       &OverfitResult{TrainItems: 1, ValidationItems: 19, Items: overfit},
		Forgetting:    &ForgettingResult{Items: 1, PerItem: []ForgettingItem{{ID: "g1", Question: "What is two and two?", Reference: "4", Method: "greedy-f1"}}},
		Hallucination: &HallucinationResult{Items: 1, RAG: &RAGGrounding{UnsupportedShare: 100, Sentences: 1}},
	}
	page, err := RenderHTML(rep)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"n/a³", "³ no answer of this variant cited a passage",
		"no answer cited a passage as [n]", "of 1 sentence judged",
		"1 training item and 19 held-out items", "1 general-knowledge item scored", "1 question answered",
		"question 19?", "reference 19", "What is two and two?",
		`<details class="rows"><summary>Items: 20 rows</summary>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, bad := range []string{"0% of 0", "of 0", "1 questions", "1 items", ">–<"} {
		if strings.Contains(html, bad) {
			t.Errorf("report.html says %q", bad)
		}
	}
	var buf strings.Builder
	if err := WriteCompareTable(&buf, rep.Compare); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "n/a³") || !strings.Contains(buf.String(), "³ no answer cited a passage as [n]") {
		t.Errorf("text table does not explain the uncited RAG row:\n%s", buf.String())
	}
}
