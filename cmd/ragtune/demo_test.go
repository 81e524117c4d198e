package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"ragtune/demo"
	"ragtune/eval"
)

// TestDemoQuick runs `ragtune demo --quick` end to end (about 20 s on 2
// idle cores) and checks what the README promises: every artifact is
// written, the report compares the four variants, fine-tuning lowers the
// held-out answer perplexity, and retrieval finds the right source.
func TestDemoQuick(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	sum, err := demo.Run(demo.Options{Workdir: dir, Quick: true, Seed: 42, Log: os.Stderr, Command: runCommandLine})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"data/qa_test.jsonl", "data/pretrain.jsonl", "data/questions.jsonl", "tokenizer/tokenizer.json", "init/config.json", "init/tokenizer.json",
		"base/model.safetensors", "lora/adapter_model.safetensors", "lora/adapter_config.json",
		"tuned/model.safetensors", "tuned-q8_0.gguf", "kb/demo", "report.json", "report.html", "demo_summary.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("artifact missing: %v", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Compare == nil {
		t.Fatal("report.json has no comparison")
	}
	ppl := map[string]float64{}
	for _, r := range rep.Compare.Rows {
		ppl[r.Variant] = r.AnswerPPL
	}
	for _, v := range []string{"base", "tuned", "base+RAG", "tuned+RAG"} {
		if p, ok := ppl[v]; !ok || !(p > 0) {
			t.Errorf("variant %s: answer perplexity %v (present %v)", v, p, ok)
		}
	}
	if got, base := ppl["tuned"], ppl["base"]; !(got < base) {
		t.Errorf("held-out answer perplexity tuned %.3f, want below base %.3f", got, base)
	}
	if rep.Forgetting == nil || !(rep.Forgetting.PPLRatio > 0) {
		t.Errorf("report has no forgetting result: %+v", rep.Forgetting)
	}
	if !(sum.CitationAcc > 0) {
		t.Errorf("citation accuracy %.2f, want > 0", sum.CitationAcc)
	}
	if !(sum.QuantQ8PPL > 0) || sum.Q8Bytes <= 0 || sum.Q8Bytes >= sum.F32Bytes {
		t.Errorf("quantization: PPL %.3f, %d → %d bytes", sum.QuantQ8PPL, sum.F32Bytes, sum.Q8Bytes)
	}
}
