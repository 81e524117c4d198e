package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trainFixture is a tiny model and a small chat data file.
func trainFixture(t *testing.T) (model, data string) {
	t.Helper()
	model = genTestModel(t)
	data = filepath.Join(t.TempDir(), "qa.jsonl")
	var b strings.Builder
	for i := range 24 {
		fmt.Fprintf(&b, `{"instruction": "What is %d plus %d?", "output": "%d"}`+"\n", i, i, 2*i)
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return model, data
}

// Rows 2, 4, 10, 11 and 16 for train: bad values are usage errors naming
// the flag, checked before the model loads; an existing output is not
// overwritten without --force; a GGUF model gets the convert command.
func TestTrainRefusesUpFront(t *testing.T) {
	model, data := trainFixture(t)
	missing := filepath.Join(t.TempDir(), "no-model")
	adapter := t.TempDir()
	os.WriteFile(filepath.Join(adapter, "adapter_model.safetensors"), []byte("finished work"), 0o644)
	gguf := filepath.Join(t.TempDir(), "model.gguf")
	os.WriteFile(gguf, []byte("GGUF\x03\x00\x00\x00 rest"), 0o644)
	fileOut := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(fileOut, []byte("x"), 0o644)
	args := func(extra ...string) []string {
		return append([]string{"train", "--model", missing, "--data", data, "--out", t.TempDir()}, extra...)
	}
	checkExits(t, []exitCase{
		{"lr NaN", args("--lr", "NaN"), 2, "ragtune: --lr (learning_rate) must be a finite number, not NaN"},
		{"lr -1", args("--lr", "-1"), 2, "ragtune: --lr (learning_rate) must be > 0, not -1"},
		{"alpha Inf", args("--lora-alpha", "Inf"), 2, "ragtune: --lora-alpha (lora_alpha) must be a finite number"},
		{"dropout 1", args("--lora-dropout", "1"), 2, "ragtune: --lora-dropout (lora_dropout) must be in [0, 1), not 1"},
		{"weight decay", args("--weight-decay", "-0.5"), 2, "ragtune: --weight-decay (weight_decay) must be >= 0"},
		{"clip NaN", args("--clip", "NaN"), 2, "ragtune: --clip (max_grad_norm) must be a finite number"},
		{"warmup", args("--warmup", "-1"), 2, "ragtune: --warmup (warmup_steps) must be >= 0"},
		{"target", args("--target", "q,x"), 2, `ragtune: --target "q,x": unknown module "x"`},
		{"missing model", args(), 1, "ragtune: model \"" + missing + "\" not found"},
		{"gguf", []string{"train", "--model", gguf, "--data", data, "--out", t.TempDir()}, 1,
			"ragtune: train reads HF model directories, not GGUF files: convert it first with 'ragtune model convert --model " + gguf + " --out model-hf'"},
		{"existing out", []string{"train", "--model", model, "--data", data, "--out", adapter}, 2,
			"ragtune: --out " + adapter + " is not empty (adapter_model.safetensors): choose another --out or pass --force"},
		{"out is a file", []string{"train", "--model", model, "--data", data, "--out", fileOut}, 2, "ragtune: --out " + fileOut + " is a file"},
		{"resume nothing", []string{"train", "--model", model, "--data", data, "--out", t.TempDir(), "--resume"}, 2, "ragtune: --resume: "},
	})
	if b, _ := os.ReadFile(filepath.Join(adapter, "adapter_model.safetensors")); string(b) != "finished work" {
		t.Error("the finished adapter was overwritten")
	}
}

// Row 3: Ctrl-C during train saves a checkpoint without --save-every, says
// how to continue, exits 130; the printed command finishes the run.
func TestTrainCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	model, data := trainFixture(t)
	out := filepath.Join(t.TempDir(), "lora")
	args := []string{"train", "--model", model, "--data", data, "--out", out, "--max-steps", "400", "--val-split", "0", "--lora-r", "2"}
	done := make(chan struct{})
	go func() {
		// Interrupt once a few steps are logged.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if n := logLines(filepath.Join(out, "train_log.jsonl")); n >= 3 {
				syscall.Kill(os.Getpid(), syscall.SIGINT)
				break
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	code, _, stderr := runCaptured(t, args...)
	close(done)
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, stderr)
	}
	var msg string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ragtune: ") {
			msg = l
		}
	}
	if !strings.HasPrefix(msg, "ragtune: stopped after step ") || !strings.Contains(msg, "the progress is saved in "+filepath.Join(out, "checkpoint-")) {
		t.Fatalf("message %q\n%s", msg, stderr)
	}
	if !strings.Contains(stderr, "Continue with:\n  ragtune train --model "+model) || !strings.Contains(stderr, "--resume") {
		t.Errorf("no resume command in\n%s", stderr)
	}
	code, stdout, stderr := runCaptured(t, append(args, "--resume")...)
	if code != 0 || !strings.Contains(stdout, "trained 400 steps") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func logLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	return n
}

// The LLaMA-Factory round trip through the CLI: export a run, train from
// the exported YAML with a flag overriding it, and get a PEFT adapter
// whose config names the modules as LLaMA-Factory/PEFT do.
func TestTrainLlamaFactoryConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	model, data := trainFixture(t)
	lf := filepath.Join(t.TempDir(), "lf-run")
	code, stdout, stderr := runCaptured(t, "train", "--model", model, "--data", data, "--out", "saves/lora", "--lora-r", "4",
		"--target", "q,v", "--lr", "1e-3", "--max-steps", "3", "--chat-template", "r1", "--export-llamafactory", lf)
	if code != 0 || !strings.Contains(stdout, "llamafactory-cli train train.yaml") {
		t.Fatalf("export: exit %d\n%s\n%s", code, stdout, stderr)
	}
	y, _ := os.ReadFile(filepath.Join(lf, "train.yaml"))
	for _, k := range []string{"lora_rank: 4", "lora_target: q_proj,v_proj", "learning_rate: 0.001", "max_steps: 3", "template: deepseekr1", "dataset: ragtune_sft"} {
		if !strings.Contains(string(y), k) {
			t.Errorf("train.yaml lacks %q:\n%s", k, y)
		}
	}
	out := filepath.Join(t.TempDir(), "lora")
	code, stdout, stderr = runCaptured(t, "train", "--config", filepath.Join(lf, "train.yaml"), "--out", out, "--max-steps", "2")
	if code != 0 || !strings.Contains(stdout, "trained 2 steps") {
		t.Fatalf("train --config: exit %d\n%s\n%s", code, stdout, stderr)
	}
	cfg, _ := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if !strings.Contains(string(cfg), `"q_proj"`) || !strings.Contains(string(cfg), `"v_proj"`) || strings.Contains(string(cfg), `"k_proj"`) {
		t.Errorf("adapter_config.json targets:\n%s", cfg)
	}

	bad := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(bad, []byte("model_name_or_path: "+model+"\nlerning_rate: 1e-4\n"), 0o644)
	checkExits(t, []exitCase{{"typo", []string{"train", "--config", bad}, 1, "ragtune: " + bad + ":2: unknown key lerning_rate; did you mean learning_rate?"}})
}
