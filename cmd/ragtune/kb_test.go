package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCaptured runs the CLI with os.Stdout and os.Stderr redirected and
// returns the exit code, stdout and stderr.
func runCaptured(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	capture := func(f **os.File) (func() string, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		saved := *f
		*f = w
		done := make(chan []byte)
		go func() { b, _ := io.ReadAll(r); done <- b }()
		return func() string {
			w.Close()
			*f = saved
			return string(<-done)
		}, nil
	}
	stopOut, err := capture(&os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	stopErr, err := capture(&os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := runMain(args, os.Stdout, &stderr)
	errText := stopErr()
	return code, stopOut(), errText + stderr.String()
}

func TestIngestAskKB(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"a.md":  "# 量化\n\nQ8_0 把每 32 个权重存成一个缩放因子和 32 个字节。\n",
		"b.txt": "灾难性遗忘是指模型在学习新领域时丢失原有能力。",
		"c.log": "not ingested: unsupported extension is filtered by default",
	}
	for name, text := range files {
		os.WriteFile(filepath.Join(src, name), []byte(text), 0o644)
	}
	root := filepath.Join(t.TempDir(), "kbs")
	code, _, stderr := runCaptured(t, "ingest", "--kb", "t1", "--kb-dir", root, "--quiet", "--chunk-size", "100", "--overlap", "10", src)
	if code != 0 || !strings.Contains(stderr, "2 added") {
		t.Fatalf("ingest exit %d, stderr %s", code, stderr)
	}
	code, out, stderr := runCaptured(t, "ask", "--kb", "t1", "--kb-dir", root, "--json", "--top-k", "1", "什么是灾难性遗忘？")
	if code != 0 {
		t.Fatalf("ask exit %d: %s", code, stderr)
	}
	var rows []struct {
		Source string `json:"source"`
		Text   string `json:"text"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || filepath.Base(rows[0].Source) != "b.txt" {
		t.Fatalf("ask output %s (%v)", out, err)
	}
	code, out, _ = runCaptured(t, "ask", "--kb", "t1", "--kb-dir", root, "Q8_0", "缩放因子")
	if code != 0 || !strings.Contains(out, "a.md › 量化") || !strings.Contains(out, "[1] score") {
		t.Errorf("ask text output %q", out)
	}
	code, out, _ = runCaptured(t, "kb", "list", "--kb-dir", root)
	if code != 0 || !strings.Contains(out, "t1") {
		t.Errorf("kb list: %d %q", code, out)
	}
	code, out, _ = runCaptured(t, "kb", "stats", "--kb", "t1", "--kb-dir", root, "--json")
	var st struct {
		Docs, Chunks int
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Docs != 2 {
		t.Errorf("kb stats: %d %q", code, out)
	}
	// Misuse gets exit code 2 and advice.
	if code, _, stderr := runCaptured(t, "ask", "--kb", "t1", "--kb-dir", root, "--mode", "dense", "x"); code != 1 || !strings.Contains(stderr, "--embed-url") {
		t.Errorf("dense without vectors: %d %q", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "t1", "--kb-dir", root, "--chunk-size", "300", src); code != 2 || !strings.Contains(stderr, "kb delete") {
		t.Errorf("changing chunk size: %d %q", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "ask", "--kb", "../x", "--kb-dir", root, "q"); code != 2 {
		t.Errorf("bad name: %d %q", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "ask", "--kb", "nope", "--kb-dir", root, "q"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("missing kb: %d %q", code, stderr)
	}
	if code, _, _ := runCaptured(t, "kb", "delete", "--kb", "t1", "--kb-dir", root); code != 0 {
		t.Errorf("kb delete exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(root, "t1")); !os.IsNotExist(err) {
		t.Errorf("kb directory still exists after delete")
	}
}

func TestEvalRetrievalUsage(t *testing.T) {
	if code, _, stderr := runCaptured(t, "eval", "retrieval"); code != 2 || !strings.Contains(stderr, "--cmrc") {
		t.Errorf("missing --cmrc: %d %q", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "eval", "retrieval", "--cmrc", "x.json", "--mode", "dense"); code != 2 || !strings.Contains(stderr, "--embed-url") {
		t.Errorf("dense without embedder: %d %q", code, stderr)
	}
}
