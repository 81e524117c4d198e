package train

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ragtune/internal/cli"
	"ragtune/llm/chat"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

func TestResumeCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--model", "m", "--out", "my run", "--force"}, "ragtune train --model m --out 'my run' --resume"},
		{[]string{"--config", "it's.yaml", "--resume"}, `ragtune train --config 'it'\''s.yaml' --resume`},
		{[]string{"-force=true", "--lr", "1e-4"}, "ragtune train --lr 1e-4 --resume"},
	}
	for _, tc := range tests {
		if got := ResumeCommand(tc.args); got != tc.want {
			t.Errorf("ResumeCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestTargetList(t *testing.T) {
	var l TargetList
	if err := l.Set("q_proj,v"); err != nil || l.String() != "q,v" {
		t.Errorf("Set(q_proj,v): %v, %q", err, l.String())
	}
	want, _ := ParseTargets("all")
	if err := l.Set("all"); err != nil || strings.Join(l, ",") != strings.Join(want, ",") {
		t.Errorf("Set(all): %v, %q", err, l)
	}
	if err := l.Set("q,bogus"); err == nil {
		t.Error("an unknown projection was accepted")
	}
}

func TestCheckOut(t *testing.T) {
	dir := t.TempDir()
	gguf := filepath.Join(dir, "m.gguf")
	os.WriteFile(gguf, []byte("GGUF"), 0o644)
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o644)
	tests := []struct {
		rc    RunConfig
		want  string
		usage bool
	}{
		{RunConfig{Model: gguf, Out: filepath.Join(dir, "o")}, "convert it first with 'ragtune model convert --model " + gguf + " --out m-hf'", false},
		{RunConfig{Model: dir, Out: filepath.Join(dir, "new"), Resume: true}, "has no checkpoint to continue", true},
		{RunConfig{Model: dir, Out: full}, "--out", true},
		{RunConfig{Model: dir, Out: filepath.Join(dir, "new")}, "", false},
	}
	for _, tc := range tests {
		err := tc.rc.CheckOut()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.rc, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, cli.ErrUsage) != tc.usage):
			t.Errorf("%+v: %v, want %q (usage %v)", tc.rc, err, tc.want, tc.usage)
		}
	}
	// --force clears the earlier run's log and keeps the user's files.
	os.WriteFile(filepath.Join(full, "train_log.jsonl"), []byte("{}\n"), 0o644)
	if err := (&RunConfig{Model: dir, Out: full, Force: true}).CheckOut(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 || ents[0].Name() != "x" {
		t.Errorf("--force left %v in %s, want only x", ents, full)
	}
}

func TestResultSummaryAndDataName(t *testing.T) {
	var b strings.Builder
	r := Result{Steps: 4, FirstLoss: 5, LastLoss: 4, BestValLoss: math.NaN(), FirstValLoss: math.NaN(), Tokens: 200, Elapsed: 2 * time.Second}
	r.WriteSummary(&b, "out")
	if want := "trained 4 steps in 2s: loss 5.0000 → 4.0000\n200 tokens, 100 tokens/s; output in out\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	r.FirstValLoss, r.BestValLoss = 2, 1
	r.WriteSummary(&b, "out")
	if !strings.Contains(b.String(), ", validation loss 2.0000 → 1.0000 (perplexity 7.39 → 2.72)\n") {
		t.Errorf("with validation: %q", b.String())
	}
	if got := (&RunConfig{Data: "qa.jsonl"}).DataName(); got != "qa.jsonl" {
		t.Errorf("DataName %q", got)
	}
	if got := (&RunConfig{Sets: []Dataset{{Name: "a"}, {Name: "b"}}}).DataName(); got != "dataset a,b" {
		t.Errorf("DataName %q", got)
	}
}

// TestPrepare builds a LoRA run on the tiny preset: data encoded and
// split, the trainable share and step count as the summary states them,
// and the chat template chosen by name.
func TestPrepare(t *testing.T) {
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	modelDir := t.TempDir()
	if err := qwen2.Init(modelDir, cfg, 7, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(t.TempDir(), "qa.jsonl")
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, `{"instruction": "What is %d plus %d?", "output": "%d"}`+"\n", i, i, 2*i)
	}
	b.WriteString("not json\n")
	os.WriteFile(dataFile, []byte(b.String()), 0o644)

	rc := DefaultRunConfig()
	rc.Model, rc.Data, rc.Out, rc.ChatTemplate, rc.SkipBad, rc.ValSplit, rc.MaxSteps = modelDir, dataFile, t.TempDir(), "r1", true, 0.2, 3
	var log, summary strings.Builder
	run, err := Prepare(rc, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Train) != 8 || len(run.Val) != 2 || run.Tokens == 0 || run.Mode != ModeLoRA || run.Trainer.TotalSteps() != 3 {
		t.Errorf("train %d val %d tokens %d mode %v steps %d", len(run.Train), len(run.Val), run.Tokens, run.Mode, run.Trainer.TotalSteps())
	}
	if !strings.Contains(log.String(), "skipped 1 malformed rows of 11") {
		t.Errorf("log %q", log.String())
	}
	run.WriteSummary(&summary, modelDir+"/")
	if !strings.HasPrefix(summary.String(), filepath.Base(modelDir)+": ") || !strings.Contains(summary.String(), "data: 8 training examples") {
		t.Errorf("summary %q", summary.String())
	}

	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"r1", "qwen"} {
		tmpl, err := LoadTemplate(name, modelDir, tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := tmpl.Render([]chat.Message{{Role: "user", Content: "hi"}}, true)
		if err != nil || !strings.Contains(out, "hi") {
			t.Errorf("%s renders %q, %v", name, out, err)
		}
	}
	if _, err := LoadTemplate(filepath.Join(modelDir, "missing.jinja"), modelDir, tok); err == nil {
		t.Error("a missing template file loaded")
	}
}
