package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ragtune/llm"
	"ragtune/rag"
)

// askTestKB ingests two small files into a knowledge base and returns its
// root folder (name "t").
func askTestKB(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	for name, text := range map[string]string{
		"a.md":  "# 量化\n\nQ8_0 把每 32 个权重存成一个缩放因子和 32 个字节。\n",
		"b.txt": "灾难性遗忘是指模型在学习新领域时丢失原有能力。Catastrophic forgetting loses old skills.",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "kbs")
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "t", "--kb-dir", root, "--quiet", "--chunk-size", "100", "--overlap", "10", src); code != 0 {
		t.Fatalf("ingest exit %d: %s", code, stderr)
	}
	return root
}

// scriptedEngine answers every request with a fixed text, streamed in
// pieces, and keeps the request it got.
type scriptedEngine struct {
	pieces []string
	got    llm.Request
}

func (e *scriptedEngine) Generate(_ context.Context, req llm.Request, onToken func(llm.Token) error) (*llm.Result, error) {
	e.got = req
	for _, p := range e.pieces {
		if onToken != nil {
			if err := onToken(llm.Token{Text: p}); err != nil {
				return nil, err
			}
		}
	}
	return &llm.Result{Text: strings.Join(e.pieces, ""), CompletionTokens: len(e.pieces)}, nil
}

// TestAskSourcesCitations answers from a real knowledge base through
// rag.Answer (the code of 'ask --model') and checks that ask says in its
// sources list and JSON which cited numbers name a passage and which do
// not. The grounded request itself is rag's to test (rag/answer_test.go).
func TestAskSourcesCitations(t *testing.T) {
	root := askTestKB(t)
	s, err := rag.OpenStore(filepath.Join(root, "t"), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	q := rag.Query{Text: "什么是灾难性遗忘 Q8_0", K: 5, Mode: rag.ModeBM25}

	eng := &scriptedEngine{pieces: []string{"\n ", "遗忘会丢失原有能力 [1]。", "量化见 [7]，", "另见 [1, 0]。"}}
	ra, err := askAnswer(ctx, s, q, eng, rag.AnswerOptions{MaxTokens: 9})
	if err != nil {
		t.Fatal(err)
	}
	if len(ra.Results) != 2 || ra.Lang != "zh" || !ra.Answered || eng.got.MaxTokens != 9 {
		t.Fatalf("answered %v, lang %q, %d results, request %+v", ra.Answered, ra.Lang, len(ra.Results), eng.got)
	}
	if !slices.Equal(ra.Citations, []int{1, 7, 1, 0}) || !slices.Equal(ra.Cited, []int{1}) || !slices.Equal(ra.Invalid, []int{0, 7}) {
		t.Errorf("citations %v, cited %v, invalid %v", ra.Citations, ra.Cited, ra.Invalid)
	}

	var b strings.Builder
	ra.WriteSources(&b)
	out := b.String()
	first := ra.Results[0].Chunk.Where()
	if !strings.Contains(out, "sources:\n  [1] "+first) || !strings.Contains(out, "cites [0] [7], which are not passages (there are 2") {
		t.Errorf("sources:\n%s", out)
	}
	j := ra.Report(q.Text, "m", "")
	if !slices.Equal(j.Citations, []int{1}) || !slices.Equal(j.InvalidCitations, []int{0, 7}) || len(j.Sources) != 1 ||
		j.Sources[0].Source != ra.Results[0].Chunk.Source || !strings.Contains(j.Note, "not passages") {
		t.Errorf("JSON %+v", j)
	}

	// Only invalid numbers, and none at all, are both said plainly.
	b.Reset()
	(&rag.AnswerResult{Results: ra.Results, Answered: true, Citations: []int{3}, Invalid: []int{3}}).WriteSources(&b)
	if out := b.String(); !strings.Contains(out, "no number the answer cites is one of the passages") || !strings.Contains(out, "[3], which is not a passage") {
		t.Errorf("invalid only:\n%s", out)
	}
	b.Reset()
	(&rag.AnswerResult{Results: ra.Results, Answered: true}).WriteSources(&b)
	if !strings.Contains(b.String(), "the answer cites no passage") {
		t.Errorf("no citation:\n%s", b.String())
	}

	// Nothing retrieved: the model is not asked.
	eng.got = llm.Request{}
	ra, err = askAnswer(ctx, s, rag.Query{Text: "zzzz", K: 3}, eng, rag.AnswerOptions{})
	if err != nil || ra.Answered || len(eng.got.Messages) != 0 {
		t.Errorf("no results: answered %v, request %+v, %v", ra.Answered, eng.got, err)
	}
}

// TestAskWithModel runs 'ragtune ask --model' on the tiny test model: the
// retrieval listing is exactly the one without a model, then come the
// answer and the sources; --json becomes an object with the answer fields
// while the JSON without a model stays the list of chunks.
func TestAskWithModel(t *testing.T) {
	root := askTestKB(t)
	modelDir := genTestModel(t)
	const question = "什么是灾难性遗忘？"
	base := []string{"ask", "--kb", "t", "--kb-dir", root, "--top-k", "2"}

	code, plain, stderr := runCaptured(t, append(base, question)...)
	if code != 0 || !strings.HasPrefix(plain, "[1] score ") || strings.Contains(plain, "answer:") {
		t.Fatalf("ask without a model: exit %d, %q, %s", code, plain, stderr)
	}
	code, out, stderr := runCaptured(t, append(base, "--model", modelDir, "--max-tokens", "6", question)...)
	if code != 0 {
		t.Fatalf("ask --model exit %d: %s", code, stderr)
	}
	rest, ok := strings.CutPrefix(out, plain)
	if !ok {
		t.Fatalf("ask --model does not start with the retrieval listing:\n%s\n--- want prefix:\n%s", out, plain)
	}
	if !strings.HasPrefix(rest, "answer:\n") || !strings.Contains(rest, "\nsources") || !strings.Contains(stderr, "loaded model") {
		t.Errorf("after the passages:\n%s\nstderr: %s", rest, stderr)
	}

	code, out, stderr = runCaptured(t, append(base, "--json", question)...)
	var rows []rag.ResultRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) == 0 {
		t.Fatalf("ask --json without a model: exit %d, %q, %s", code, out, stderr)
	}
	code, out, stderr = runCaptured(t, append(base, "--json", "--model", modelDir, "--max-tokens", "6", question)...)
	if code != 0 {
		t.Fatalf("ask --json --model exit %d: %s", code, stderr)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatalf("ask --json --model is not a JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"question", "lang", "results", "answer", "citations", "invalid_citations", "sources"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("ask --json --model has no %q: %s", k, out)
		}
	}
	var o rag.AnswerReport
	if err := json.Unmarshal([]byte(out), &o); err != nil || !o.Answered || o.Lang != "zh" || !reflect.DeepEqual(o.Results, rows) ||
		o.Citations == nil || o.InvalidCitations == nil {
		t.Errorf("ask --json --model: %+v (%v)", o, err)
	}

	for _, args := range [][]string{
		{"--adapter", t.TempDir(), question},
		{"--model", modelDir, "--max-tokens", "-1", question},
	} {
		if code, _, stderr := runCaptured(t, append(base, args...)...); code != 2 {
			t.Errorf("ask %q: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}
