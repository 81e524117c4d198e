package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/eval"
	"ragtune/model/qwen2"
	"ragtune/train"
)

func perplexityJSON(t *testing.T, args ...string) eval.FilePerplexityResult {
	t.Helper()
	var out, errb bytes.Buffer
	if err := evalPerplexity(append(args, "--json"), &out, &errb); err != nil {
		t.Fatalf("eval perplexity %q: %v\n%s", args, err, errb.String())
	}
	var o eval.FilePerplexityResult
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatalf("decode %q: %v", out.String(), err)
	}
	return o
}

func TestEvalPerplexity(t *testing.T) {
	dir := genTestModel(t)
	text := strings.Repeat("预训练之后是微调。Fine-tuning follows pre-training. ", 6)
	file := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f32 := perplexityJSON(t, "--model", dir, "--file", file, "--window", "128", "--stride", "64")
	// One token per byte plus BOS; every token but the first is scored.
	if got, want := f32.Tokens, len(text)+1; got != want {
		t.Errorf("tokens %d, want %d", got, want)
	}
	if f32.Scored != f32.Tokens-1 || !(f32.PPL > 1) || math.Abs(math.Log(f32.PPL)-f32.MeanNLL) > 1e-9 {
		t.Errorf("scored %d of %d, PPL %v, mean NLL %v", f32.Scored, f32.Tokens, f32.PPL, f32.MeanNLL)
	}
	// Quantized GGUF files run directly; Q8_0 stays within 2% of F32.
	for _, tc := range []struct {
		typ    string
		within float64
	}{{"q8_0", 0.02}, {"q4_0", 0.25}} {
		gg := filepath.Join(t.TempDir(), tc.typ+".gguf")
		if err := runQuantize([]string{"--model", dir, "--type", tc.typ, "--out", gg}); err != nil {
			t.Fatal(err)
		}
		q := perplexityJSON(t, "--model", gg, "--file", file, "--window", "128", "--stride", "64")
		if q.Scored != f32.Scored || math.Abs(q.PPL/f32.PPL-1) > tc.within {
			t.Errorf("%s: PPL %v over %d tokens, F32 %v over %d", tc.typ, q.PPL, q.Scored, f32.PPL, f32.Scored)
		}
	}

	// A LoRA adapter with B = 0 changes nothing; a trained one changes the PPL.
	cfg, err := qwen2.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	lc := train.DefaultLoRA()
	p := train.NewAdapterParams(cfg, lc)
	p.Zero()
	zero := t.TempDir()
	if err := train.SaveAdapter(zero, lc, p, dir); err != nil {
		t.Fatal(err)
	}
	if got := perplexityJSON(t, "--model", dir, "--adapter", zero, "--file", file, "--window", "128", "--stride", "64"); got.PPL != f32.PPL {
		t.Errorf("zero adapter: PPL %v, want %v exactly", got.PPL, f32.PPL)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range p.Data {
		p.Data[i] = float32(r.NormFloat64() * 0.5)
	}
	trained := t.TempDir()
	if err := train.SaveAdapter(trained, lc, p, dir); err != nil {
		t.Fatal(err)
	}
	if got := perplexityJSON(t, "--model", dir, "--adapter", trained, "--file", file, "--window", "128", "--stride", "64"); math.Abs(got.PPL/f32.PPL-1) < 1e-3 {
		t.Errorf("trained adapter: PPL %v, the same as without (%v)", got.PPL, f32.PPL)
	}

	for _, bad := range [][]string{
		{"--file", file},
		{"--model", dir, "--file", file, "--window", "1"},
		{"--model", dir, "--file", file, "--window", "8", "--stride", "9"},
	} {
		if err := evalPerplexity(bad, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("eval perplexity %q: no error", bad)
		}
	}
}

func TestEvalSuitesAndCompare(t *testing.T) {
	dir := genTestModel(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := evalSuites([]string{"--model", dir, "--base", dir, "--suite", "forgetting,robustness,safety",
		"--limit", "2", "--max-tokens", "4", "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"forgetting", "robustness", "safety", "report.html"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("eval summary lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// The same model as base and tuned: nothing is forgotten.
	f := rep["forgetting"].(map[string]any)
	if f["right_to_wrong"].(float64) != 0 || f["ppl_ratio"].(float64) != 1 {
		t.Errorf("same model twice: right→wrong %v, PPL ratio %v; want 0 and 1", f["right_to_wrong"], f["ppl_ratio"])
	}

	stdout.Reset()
	stderr.Reset()
	cmp := t.TempDir()
	if err := compare([]string{"--base", dir, "--tuned", dir, "--limit", "2", "--max-tokens", "4", "--out", cmp}, &stdout, &stderr); err != nil {
		t.Fatalf("compare: %v\n%s", err, stderr.String())
	}
	for _, v := range []string{"base ", "base+RAG", "tuned ", "tuned+RAG"} {
		if !strings.Contains(stdout.String(), v) {
			t.Errorf("compare table lacks %q:\n%s", v, stdout.String())
		}
	}
	if _, err := os.Stat(filepath.Join(cmp, "report.html")); err != nil {
		t.Error(err)
	}
}

func TestEvalUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--suite", "all", "--out", "x"}, // no model
		{"--model", "m"},                 // no --out
		{"--model", "m", "--out", "x", "--suite", "speed"},
		{"--model", "m", "--out", "x", "--data", "nosuite=f.jsonl"},
		{"--model", "m", "--out", "x", "--support", "2"},
	} {
		// Through the group: "ragtune eval --flags" runs the suites.
		if err := dispatchGroup("eval", args); !errors.Is(err, errUsage) {
			t.Errorf("eval %q: %v, want a usage error", args, err)
		}
	}
	if err := compare([]string{"--out", "x"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("compare without --base: no error")
	}
}

func TestEvalWithKnowledgeBase(t *testing.T) {
	dir := genTestModel(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.md"), []byte("# 量化\n\nQ8_0 把每 32 个权重存成一个缩放因子和 32 个字节。\n"), 0o644)
	os.WriteFile(filepath.Join(src, "b.txt"), []byte("灾难性遗忘是指模型在学习新领域时丢失原有能力。"), 0o644)
	root := filepath.Join(t.TempDir(), "kbs")
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "k", "--kb-dir", root, "--quiet", src); code != 0 {
		t.Fatalf("ingest: %s", stderr)
	}
	data := filepath.Join(t.TempDir(), "qa.jsonl")
	os.WriteFile(data, []byte(`{"question": "什么是灾难性遗忘？", "answers": ["丢失原有能力"], "source": "b.txt"}
{"instruction": "Q8_0 每块多少个权重？", "output": "32 个"}
`), 0o644)
	out := t.TempDir()
	// "ragtune eval --flags" without a subcommand runs the suites.
	code, stdout, stderr := runCaptured(t, "eval", "--model", dir, "--kb", "k", "--kb-dir", root, "--suite", "hallucination",
		"--data", "hallucination="+data, "--max-tokens", "4", "--top-k", "2", "--out", out)
	if code != 0 || !strings.Contains(stdout, "RAG F1") {
		t.Fatalf("eval exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Hallucination struct {
			RAG struct {
				TopK int `json:"top_k"`
			} `json:"rag"`
			Cases []struct {
				Retrieved []string `json:"retrieved"`
			} `json:"cases"`
		} `json:"hallucination"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if h := rep.Hallucination; h.RAG.TopK != 2 || len(h.Cases) != 2 || len(h.Cases[0].Retrieved) == 0 {
		t.Errorf("RAG half did not use the knowledge base: %s", b[:min(len(b), 800)])
	}
	cmp := t.TempDir()
	code, stdout, stderr = runCaptured(t, "compare", "--base", dir, "--kb", "k", "--kb-dir", root, "--data", data, "--max-tokens", "4", "--out", cmp)
	if code != 0 || !strings.Contains(stdout, "base+RAG") {
		t.Fatalf("compare exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	// eval run and compare take the reranker flags as ask does (the
	// reranking itself is tested in packages eval and rag): the /v1/rerank
	// server is called for the questions.
	calls := 0
	srv := rerankByWord("Q8_0", &calls)
	defer srv.Close()
	out = t.TempDir()
	code, stdout, stderr = runCaptured(t, "eval", "run", "--model", dir, "--kb", "k", "--kb-dir", root, "--suite", "hallucination",
		"--data", "hallucination="+data, "--max-tokens", "4", "--top-k", "1", "--rerank-url", srv.URL, "--out", out)
	if code != 0 || calls == 0 {
		t.Fatalf("eval run --rerank-url: exit %d after %d rerank calls\nstdout %s\nstderr %s", code, calls, stdout, stderr)
	}
	b, err = os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if cs := rep.Hallucination.Cases; len(cs) != 2 || len(cs[1].Retrieved) != 1 || !strings.Contains(cs[1].Retrieved[0], "a.md") {
		t.Errorf("after reranking the cases retrieved %+v, want the a.md passage for the Q8_0 question", cs)
	}
	before := calls
	code, _, stderr = runCaptured(t, "compare", "--base", dir, "--kb", "k", "--kb-dir", root, "--data", data, "--max-tokens", "4", "--rerank-url", srv.URL, "--out", t.TempDir())
	if code != 0 || calls == before {
		t.Errorf("compare --rerank-url: exit %d, %d rerank calls: %s", code, calls-before, stderr)
	}
}

// TestEvalDetectsMemorization trains the tiny model until it memorizes the
// built-in overfit suite's training rows, then checks that the suite sees
// it: training answers reproduced and likely, held-out ones not.
func TestEvalDetectsMemorization(t *testing.T) {
	base := genTestModel(t)
	items, err := eval.DefaultItems(eval.SuiteOverfit)
	if err != nil {
		t.Fatal(err)
	}
	var rows bytes.Buffer
	for _, it := range items {
		if it.Split == "train" {
			// train/data adds the empty think block the --no-think prompt ends with.
			b, _ := json.Marshal(map[string]string{"instruction": it.Question, "output": it.Answers[0]})
			rows.Write(append(b, '\n'))
		}
	}
	data := filepath.Join(t.TempDir(), "train.jsonl")
	os.WriteFile(data, rows.Bytes(), 0o644)
	tuned := t.TempDir()
	code, _, stderr := runCaptured(t, "train", "--model", base, "--data", data, "--out", tuned, "--mode", "full",
		"--epochs", "50", "--lr", "0.003", "--val-split", "0")
	if code != 0 {
		t.Fatalf("train: %s", stderr)
	}
	out := t.TempDir()
	var stdout, errb bytes.Buffer
	if err := evalSuites([]string{"--model", tuned, "--base", base, "--suite", "overfit,forgetting", "--no-think",
		"--max-tokens", "80", "--out", out}, &stdout, &errb); err != nil {
		t.Fatalf("eval: %v\n%s", err, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	o, f := rep.Overfit, rep.Forgetting
	t.Logf("overfit: PPL train %.2f validation %.2f, ROUGE-L train %.1f validation %.1f; forgetting PPL ratio %.2f",
		o.TrainPPL, o.ValidationPPL, o.Train.RougeL, o.Validation.RougeL, f.PPLRatio)
	if o.PPLRatio < 5 || o.Train.RougeL < o.Validation.RougeL+40 {
		t.Errorf("memorization not detected: PPL ratio %.2f, ROUGE-L train %.1f vs validation %.1f", o.PPLRatio, o.Train.RougeL, o.Validation.RougeL)
	}
	// Training on eight rows moved the model away from everything else.
	if f.PPLRatio <= 1 {
		t.Errorf("forgetting PPL ratio %.2f, want > 1 after memorizing", f.PPLRatio)
	}
}

func TestEvalPerplexitySamples(t *testing.T) {
	dir := genTestModel(t)
	file := filepath.Join(t.TempDir(), "s.jsonl")
	os.WriteFile(file, []byte("\"预训练之后是微调。\"\n{\"text\": \"Fine-tuning follows pre-training.\"}\n"), 0o644)
	o := perplexityJSON(t, "--model", dir, "--file", file, "--window", "16", "--stride", "8")
	// Byte-level: each sample is its bytes plus BOS; each loses its first token.
	wantTokens := len("预训练之后是微调。") + len("Fine-tuning follows pre-training.") + 2
	if o.Samples != 2 || o.Tokens != wantTokens || o.Scored != wantTokens-2 || !(o.MeanOfSamples > 1) {
		t.Errorf("samples %d, tokens %d (scored %d), mean of samples %v; want 2, %d (%d), > 1", o.Samples, o.Tokens, o.Scored, o.MeanOfSamples, wantTokens, wantTokens-2)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"txt\": \"x\"}\n"), 0o644)
	if err := evalPerplexity([]string{"--model", dir, "--file", bad}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "bad.jsonl:1") {
		t.Errorf("sample without text: %v, want an error naming bad.jsonl:1", err)
	}
}
