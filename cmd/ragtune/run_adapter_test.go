package main

import (
	"path/filepath"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/train"
)

// A LoRA adapter given to run must act exactly like its weights merged
// into the base: same greedy text as the merged model, different from the
// base alone (B is random here, so the adapter really changes the model).
func TestRunAdapterEqualsMergedModel(t *testing.T) {
	base := genTestModel(t)
	cfg, err := qwen2.LoadConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	lc := train.DefaultLoRA()
	lc.R, lc.Alpha, lc.Dropout = 4, 8, 0
	p := train.NewAdapterParams(cfg, lc)
	// Deterministic, sizeable values so the adapter moves the logits.
	for i := range p.Data {
		p.Data[i] = float32((i*7919)%201-100) / 400
	}
	adapter := filepath.Join(t.TempDir(), "adapter")
	if err := train.SaveAdapter(adapter, lc, p, base); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(t.TempDir(), "merged")
	if err := train.MergeLoRA(base, adapter, merged, nil); err != nil {
		t.Fatal(err)
	}
	args := func(m string, extra ...string) []string {
		return append([]string{"--model", m, "--raw", "--prompt", "LoRA 适配器", "--max-tokens", "24", "--temperature", "0"}, extra...)
	}
	withAdapter, stderr, err := runCLI(t, run, "", args(base, "--adapter", adapter)...)
	if err != nil {
		t.Fatalf("run --adapter: %v\n%s", err, stderr)
	}
	fromMerged, _, err := runCLI(t, run, "", args(merged)...)
	if err != nil {
		t.Fatalf("run merged: %v", err)
	}
	plain, _, err := runCLI(t, run, "", args(base)...)
	if err != nil {
		t.Fatalf("run base: %v", err)
	}
	if withAdapter != fromMerged {
		t.Errorf("--adapter output %q differs from the merged model's %q", withAdapter, fromMerged)
	}
	if withAdapter == plain {
		t.Errorf("--adapter output equals the base model's (%q): adapter not applied", plain)
	}
	if _, _, err := runCLI(t, run, "", args(base, "--adapter", filepath.Join(t.TempDir(), "missing"))...); err == nil {
		t.Error("a missing adapter directory must be an error")
	}
}
