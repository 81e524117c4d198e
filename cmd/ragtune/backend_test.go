package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/eval"
	"ragtune/llm"
	"ragtune/rag"
	"ragtune/server"
	"ragtune/train"
)

// secondServe starts what a second 'ragtune serve' is: package server over
// eng, in process, and returns its URL.
func secondServe(t *testing.T, eng llm.Engine, name string) string {
	t.Helper()
	s, err := server.New(server.Config{Engine: eng, ModelName: name, NoGuard: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts.URL
}

// serveTestModel serves the tiny test model at dir, loaded as 'ragtune
// run' loads it.
func serveTestModel(t *testing.T, dir string) string {
	t.Helper()
	eng, err := train.LoadLocal(dir, "", llm.LoadOptions{KVType: llm.DefaultKVType.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return secondServe(t, eng, "tiny")
}

// TestRunBackendEqualsModel: greedy 'run --backend' against a second
// ragtune serve over the same model prints exactly what 'run --model'
// prints, reasoning included (--show-think) and with a raw prompt.
func TestRunBackendEqualsModel(t *testing.T) {
	dir := genTestModel(t)
	url := serveTestModel(t, dir)
	for _, extra := range [][]string{
		{"--show-think"},
		{"--no-think"},
		{"--raw", "--stop", "e"},
	} {
		args := append([]string{"--prompt", "什么是灾难性遗忘？", "--temperature", "0", "--max-tokens", "24"}, extra...)
		local, lerr, err := runCLI(t, run, "", append([]string{"--model", dir}, args...)...)
		if err != nil {
			t.Fatalf("run --model %q: %v\n%s", extra, err, lerr)
		}
		remote, rerr, err := runCLI(t, run, "", append([]string{"--backend", url}, args...)...)
		if err != nil {
			t.Fatalf("run --backend %q: %v\n%s", extra, err, rerr)
		}
		if remote != local || local == "" {
			t.Errorf("%q: --backend printed\n%q\n--model printed\n%q", extra, remote, local)
		}
		if !strings.Contains(rerr, `generating with `+url+` (model "tiny")`) {
			t.Errorf("stderr does not say where it generates:\n%s", rerr)
		}
	}

	// chat keeps the conversation across turns the same way.
	in := "hello\nand again\n"
	local, _, err := runCLI(t, chatCmd, in, "--model", dir, "--temperature", "0", "--max-tokens", "12", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	remote, stderr, err := runCLI(t, chatCmd, in, "--backend", url, "--temperature", "0", "--max-tokens", "12", "--quiet")
	if err != nil || remote != local {
		t.Errorf("chat --backend: %v\n%q\nwant\n%q\n%s", err, remote, local, stderr)
	}
}

// TestBackendFlagErrors: a local model and a backend together, flags
// only a local model takes, and a server that is not there are refused
// with what to do.
func TestBackendFlagErrors(t *testing.T) {
	dir := genTestModel(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	out := filepath.Join(t.TempDir(), "out")
	checkExits(t, []exitCase{
		{"both", []string{"run", "--model", dir, "--backend", dead, "hi"}, 2, "ragtune: give one of --model (a local model) and --backend (a remote server), not both"},
		{"neither", []string{"run", "hi"}, 2, "ragtune: --model is required"},
		{"adapter", []string{"chat", "--backend", dead, "--adapter", dir}, 2, "ragtune: --adapter applies to a local --model; the server at --backend loads its own model"},
		{"kv-type", []string{"run", "--backend", dead, "--kv-type", "f32", "hi"}, 2, "ragtune: --kv-type applies to a local --model"},
		{"model name alone", []string{"run", "--model", dir, "--backend-model", "x", "hi"}, 2, "ragtune: --backend-model needs --backend URL"},
		{"no scheme", []string{"run", "--backend", "127.0.0.1:8000", "hi"}, 2, "ragtune: --backend: remote backend \"127.0.0.1:8000\": the URL must start with http://"},
		{"unreachable", []string{"run", "--backend", dead, "hi"}, 1, "ragtune: remote backend " + dead + " is unreachable"},
		{"compare both", []string{"compare", "--base", dir, "--base-backend", dead, "--out", out}, 2, "ragtune: give one of --base (a local model) and --base-backend (a remote server), not both"},
		{"compare adapter", []string{"compare", "--base-backend", dead, "--adapter", dir, "--out", out}, 2, "ragtune: --adapter applies to a local --base"},
		{"compare none", []string{"compare", "--out", out}, 2, "ragtune: --base (or --base-backend) and --out are required"},
	})
}

// TestAskBackendCites: 'ask --backend' answers through rag.Answer over
// HTTP, and the citations of the server's answer come back as sources,
// in text and JSON.
func TestAskBackendCites(t *testing.T) {
	root := askTestKB(t)
	url := secondServe(t, &scriptedEngine{pieces: []string{"遗忘会丢失", "原有能力 [1]。"}}, "scripted")
	base := []string{"ask", "--kb", "t", "--kb-dir", root, "--top-k", "2", "--backend", url}
	code, out, stderr := runCaptured(t, append(base, "什么是灾难性遗忘？")...)
	if code != 0 {
		t.Fatalf("ask --backend: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(out, "answer:\n遗忘会丢失原有能力 [1]。\n") || !strings.Contains(out, "\nsources:\n  [1] ") {
		t.Errorf("ask --backend printed:\n%s", out)
	}
	code, out, stderr = runCaptured(t, append(base, "--json", "什么是灾难性遗忘？")...)
	var r rag.AnswerReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("ask --backend --json: exit %d, %q\n%s", code, out, stderr)
	}
	if !r.Answered || len(r.Citations) != 1 || len(r.Sources) != 1 || r.Model != "scripted at "+url {
		t.Errorf("ask --backend --json: %+v", r)
	}
}

// TestCompareAndEvalWithBackend: compare with a local base and a remote
// tuned side (a second serve over the same model) writes both into the
// report, with the same greedy answers; eval run scores a backend.
func TestCompareAndEvalWithBackend(t *testing.T) {
	dir := genTestModel(t)
	url := serveTestModel(t, dir)
	cmp := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := compare([]string{"--base", dir, "--tuned-backend", url, "--limit", "2", "--max-tokens", "6", "--no-think", "--out", cmp}, &stdout, &stderr); err != nil {
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
	answered := 0
	for _, q := range rep.Compare.Questions {
		byVariant := map[string]string{}
		for _, a := range q.Answers {
			byVariant[a.Variant] = a.Answer
			if a.Answer != "" {
				answered++
			}
		}
		if len(byVariant) != 4 || byVariant["base"] != byVariant["tuned"] || byVariant["base+RAG"] != byVariant["tuned+RAG"] {
			t.Errorf("question %s: answers %q; a remote tuned side over the same model should answer as the base", q.ID, byVariant)
		}
	}
	if answered == 0 {
		t.Error("no variant answered anything: the comparison of answers proves nothing")
	}
	if !strings.Contains(stderr.String(), "generating with "+url) {
		t.Errorf("compare stderr does not name the backend:\n%s", stderr.String())
	}

	out := t.TempDir()
	stdout.Reset()
	stderr.Reset()
	if err := evalSuites([]string{"--backend", url, "--suite", "robustness", "--limit", "2", "--max-tokens", "4", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("eval run --backend: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "report.json")); err != nil || !strings.Contains(stdout.String(), "robustness") {
		t.Errorf("eval run --backend: %v\n%s", err, stdout.String())
	}
}
