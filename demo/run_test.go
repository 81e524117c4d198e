package demo

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/eval"
	"ragtune/internal/cli"
)

// A second run into the same folder starts fresh; a foreign folder is refused.
func TestPrepareDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "old.txt"), []byte("earlier run"), 0o644)
	os.MkdirAll(filepath.Join(dir, "kb", "demo"), 0o755)
	if err := PrepareDir(dir); err != nil {
		t.Fatalf("re-running into the demo's own folder: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != Marker {
		t.Errorf("after clearing, %d entries remain, want only the marker", len(entries))
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	if err := PrepareDir(foreign); err == nil || !errors.Is(err, cli.ErrUsage) {
		t.Errorf("a non-empty folder the demo did not write: %v, want a usage error", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Errorf("the foreign folder was touched: %v", err)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"ingest", "--kb", "demo", "my dir/a.md", "", "it's", "$HOME"})
	want := `ingest --kb demo 'my dir/a.md' '' 'it'\''s' '$HOME'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine(""); got != "(empty)" {
		t.Errorf("empty: %q", got)
	}
	if got := oneLine("  a\n\tb  c\n"); got != "a b c" {
		t.Errorf("got %q", got)
	}
}

// Run stops at the first command that fails, naming it, before the
// pipeline goes further.
func TestRunStopsAtFailingCommand(t *testing.T) {
	var ran []string
	var log bytes.Buffer
	_, err := Run(Options{Workdir: filepath.Join(t.TempDir(), "w"), Quick: true, Seed: 1, Log: &log,
		Command: func(args []string) error {
			ran = append(ran, args[0]+" "+args[1])
			return errors.New("boom")
		}})
	if err == nil || !strings.Contains(err.Error(), "ragtune model: boom") {
		t.Fatalf("error %v, want the failing command named", err)
	}
	if len(ran) != 1 || ran[0] != "model train-tokenizer" {
		t.Errorf("ran %v, want only the tokenizer step", ran)
	}
	for _, want := range []string{"[1/9] data", "[2/9] tokenizer", "  $ ragtune model train-tokenizer --data "} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestSummaryPrint(t *testing.T) {
	s := &Summary{Workdir: "w", Seed: 7, Params: 1000, Vocab: 768, TrainQA: 26, TestQA: 6, TopK: 3, CitationHits: 6, CitationAcc: 1,
		HeldoutPPL: map[string]float64{}, BLEU: map[string]float64{}, RougeL: map[string]float64{},
		QuantF32PPL: 100, QuantQ8PPL: 101, F32Bytes: 2048, Q8Bytes: 1024, Report: "w/report.html", WallSeconds: 8.4}
	s.addCompare(&eval.Report{
		Compare: &eval.CompareResult{Rows: []eval.CompareRow{
			{Variant: "base", AnswerPPL: 140}, {Variant: "tuned", AnswerPPL: 120},
			{Variant: "base+RAG", AnswerPPL: 150}, {Variant: "tuned+RAG", AnswerPPL: 130},
		}},
		Forgetting: &eval.ForgettingResult{BasePPL: 100, TunedPPL: 110, PPLRatio: 1.1},
	})
	var b bytes.Buffer
	if err := s.Print(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"══ ragtune demo: measured in 8s (seed 7) ══\n",
		"  tuned                120.00     0.00      0.00\n",
		"fine-tuning lowered the held-out answer perplexity: 140.00 → 120.00 (-14%)\n",
		"ratio 1.100 (above 1: the tuned model finds general answers less likely — forgetting)\n",
		"retrieval raised the answer perplexity of both models (140.00 → 150.00, 120.00 → 130.00)",
		"quantization Q8_0: held-out text PPL 100.000 → 101.000 (+1.00%), 2.0 KiB → 1.0 KiB\n",
		"top 3 passages for 6/6 questions (100%)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	s.HeldoutPPL["tuned"] = math.NaN()
	b.Reset()
	s.Print(&b)
	if !strings.Contains(b.String(), "did NOT lower") || !strings.Contains(b.String(), "warning: a perplexity is not a number") {
		t.Errorf("a NaN perplexity is not flagged:\n%s", b.String())
	}
}
