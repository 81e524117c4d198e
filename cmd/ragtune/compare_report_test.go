package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/eval"
)

// TestCompareWritesEveryQuestion: report.json and report.html carry each
// question with the four variants' answers, its references and the
// passages retrieved, not only the totals.
func TestCompareWritesEveryQuestion(t *testing.T) {
	dir := genTestModel(t)
	cmp := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := compare([]string{"--base", dir, "--tuned", dir, "--limit", "3", "--max-tokens", "4", "--out", cmp}, &stdout, &stderr); err != nil {
		t.Fatalf("compare: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(cmp, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	qs := rep.Compare.Questions
	if len(qs) != 3 {
		t.Fatalf("%d questions in report.json, want 3", len(qs))
	}
	for _, q := range qs {
		var variants []string
		for _, a := range q.Answers {
			variants = append(variants, a.Variant)
		}
		if got := strings.Join(variants, ","); got != "base,base+RAG,tuned,tuned+RAG" || q.Question == "" || len(q.References) == 0 || len(q.Passages) == 0 {
			t.Errorf("question %s: variants %s, %d references, %d passages", q.ID, got, len(q.References), len(q.Passages))
		}
	}
	html, err := os.ReadFile(filepath.Join(cmp, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), `<details class="q">`); n != 3 {
		t.Errorf("report.html has %d per-question blocks, want 3", n)
	}
	// The random tiny model cites nothing: the table says n/a and why.
	if !strings.Contains(stdout.String(), "n/a³") || !strings.Contains(stdout.String(), "³ no answer cited a passage") {
		t.Errorf("compare table does not explain its n/a marks:\n%s", stdout.String())
	}
}

// TestEvalSaysLoadedModel: without --base or --adapter there is nothing the
// model was tuned from, so eval does not call it "tuned".
func TestEvalSaysLoadedModel(t *testing.T) {
	dir := genTestModel(t)
	var stdout, stderr bytes.Buffer
	if err := evalSuites([]string{"--model", dir, "--suite", "safety", "--limit", "1", "--max-tokens", "2", "--out", t.TempDir()}, &stdout, &stderr); err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "loaded model "+dir) || strings.Contains(stderr.String(), "loaded tuned") {
		t.Errorf("stderr %q, want \"loaded model %s\"", stderr.String(), dir)
	}
}

// TestEvalSummaryNotApplicable: a RAG run whose answers cite nothing says
// n/a and why, never "valid citations 0% of 0".
func TestEvalSummaryNotApplicable(t *testing.T) {
	dir := genTestModel(t)
	var stdout, stderr bytes.Buffer
	if err := evalSuites([]string{"--model", dir, "--suite", "hallucination", "--limit", "1", "--max-tokens", "2", "--out", t.TempDir()}, &stdout, &stderr); err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "valid citations n/a (no answer cited a passage as [n])") || strings.Contains(out, "of 0") {
		t.Errorf("eval summary:\n%s", out)
	}
}
