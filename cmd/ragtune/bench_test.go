package main

import (
	"path/filepath"
	"testing"

	"ragtune/tensor"
)

func TestBenchTiny(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "tiny")
	if err := runModelInit([]string{"--out", m, "--preset", "tiny"}); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "tiny-q4.gguf")
	if err := runQuantize([]string{"--model", m, "--type", "q4_0", "--out", q}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{m, q} {
		res, err := bench(path, 2, 20, 5, tensor.KVF16, "")
		if err != nil {
			t.Fatalf("bench %s: %v", path, err)
		}
		if res.PrefillTokS <= 0 || res.DecodeTokS <= 0 || res.PeakRSSBytes <= 0 || res.FileSizeBytes <= 0 {
			t.Errorf("bench %s: implausible result %+v", path, res)
		}
	}
	if err := runBench([]string{"--model", m, "--prompt", "5000"}); err == nil {
		t.Error("bench accepted a prompt longer than the context")
	}
}
