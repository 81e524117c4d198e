package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/cli"
	"ragtune/rag"
)

func TestLoadLabeled(t *testing.T) {
	dir := tinyDir(t, 3)
	var log bytes.Buffer
	m, err := LoadLabeled("tuned", dir, "", LoadOptions{}, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Label != "tuned" {
		t.Errorf("label %q, want tuned", m.Label)
	}
	if got := log.String(); !strings.HasPrefix(got, "loaded tuned "+dir+" in ") {
		t.Errorf("log %q does not announce the model", got)
	}
	// A path that names nothing is refused before anything loads, with
	// cli.ModelPath's advice.
	if _, err := LoadLabeled("base", filepath.Join(t.TempDir(), "missing"), "", LoadOptions{}, &log); err == nil {
		t.Error("a missing model path loaded")
	}
}

func TestPerplexityOfFile(t *testing.T) {
	dir := tinyDir(t, 3)
	text := strings.Repeat("Fine-tuning follows pre-training. 微调。", 4)
	file := filepath.Join(t.TempDir(), "t.txt")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	got, err := PerplexityOfFile(dir, "", file, 64, 32, &log)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(dir, "", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, err := FilePerplexity(m, PerplexityText{Name: file, Text: text}, 64, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens != want.Tokens || math.Abs(got.PPL-want.PPL) > 1e-9 {
		t.Errorf("PerplexityOfFile %+v, FilePerplexity %+v", got, want)
	}
	if !strings.Contains(log.String(), "loaded model "+dir) {
		t.Errorf("log does not announce the model: %q", log.String())
	}
	// A malformed .jsonl is reported before the model loads.
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{not json\n"), 0o644)
	log.Reset()
	if _, err := PerplexityOfFile(dir, "", bad, 64, 32, &log); err == nil || strings.Contains(log.String(), "loaded") {
		t.Errorf("malformed file: err %v, log %q; want an error before loading", err, log.String())
	}
	if _, err := PerplexityOfFile(dir, "", filepath.Join(t.TempDir(), "none.txt"), 64, 32, &log); err == nil || !strings.Contains(err.Error(), "read text") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFilePerplexityResultWriteText(t *testing.T) {
	r := &FilePerplexityResult{Tokens: 100, Scored: 99, Window: 64, Stride: 32, Windows: 3, MeanNLL: 2.5, PPL: math.Exp(2.5)}
	var b bytes.Buffer
	r.WriteText(&b)
	want := "tokens      100 (99 scored)\nwindow      64, stride 32, 3 windows\nmean NLL    2.5000 nats/token\nperplexity  12.1825\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back FilePerplexityResult
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back != *r || !strings.Contains(b.String(), "\n  \"ppl\": ") {
		t.Errorf("JSON %s (%v)", b.String(), err)
	}
	r.Samples, r.MeanOfSamples, r.MedianOfSamples = 2, 11, 10.5
	b.Reset()
	r.WriteText(&b)
	if !strings.HasSuffix(b.String(), "samples     2: per-sample perplexity mean 11.0000, median 10.5000\n") {
		t.Errorf("no samples line:\n%s", b.String())
	}
}

func TestReportWriteSummary(t *testing.T) {
	r := &Report{
		Forgetting:    &ForgettingResult{PPLRatio: 1.25, BaseAccuracy: 50, TunedAccuracy: 25, RightToWrong: 1, Items: 4},
		Hallucination: &HallucinationResult{RAG: &RAGGrounding{Sentences: 0, Citations: 3, CitationValidity: 100}},
		Skipped:       map[string]string{"overfit": "no data"},
	}
	var b bytes.Buffer
	r.WriteSummary(&b)
	for _, want := range []string{
		"forgetting     PPL ratio tuned/base 1.25; accuracy 50% → 25%; right→wrong 1, wrong→right 0 of 4\n",
		"unsupported sentences n/a (no sentence long enough to judge), valid citations 100% of 3 citations\n",
		"skipped        overfit: no data\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "overfit        ") || strings.Contains(b.String(), "safety") {
		t.Errorf("summary reports a suite that did not run:\n%s", b.String())
	}
}

func TestStoreRetrieverWithRerank(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.md"), []byte("kidney stones are hard deposits of minerals"), 0o644)
	os.WriteFile(filepath.Join(src, "b.md"), []byte("kidney function and the zebra"), 0o644)
	dir := filepath.Join(t.TempDir(), "kb")
	s, err := rag.CreateStore(dir, rag.StoreConfig{Name: "t", ChunkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Ingest(context.Background(), []string{src}, rag.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStoreRetriever(dir, "fuzzy"); !errors.Is(err, cli.ErrUsage) {
		t.Errorf("an unknown mode: %v, want a usage error", err)
	}
	if _, err := OpenStoreRetriever(filepath.Join(t.TempDir(), "none"), "bm25"); !errors.Is(err, rag.ErrNoKB) {
		t.Errorf("a missing knowledge base: %v, want rag.ErrNoKB", err)
	}
	var r Retriever = StoreRetriever{Store: s, Mode: rag.ModeBM25}
	ps, err := r.Retrieve(context.Background(), "kidney stones", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || filepath.Base(ps[0].Source) != "a.md" || ps[0].Text == "" || !(ps[0].Score >= ps[1].Score) {
		t.Fatalf("passages %+v, want a.md first of 2", ps)
	}

	// A broken reranker record is reported and ignored.
	os.WriteFile(filepath.Join(dir, "rerank.json"), []byte("{"), 0o644)
	var warn bytes.Buffer
	got := WithRerank(r, nil, false, &warn)
	if got.(StoreRetriever).Rerank != nil || !strings.Contains(warn.String(), "searching without reranking") {
		t.Errorf("broken record: rerank %v, warning %q", got.(StoreRetriever).Rerank, warn.String())
	}
	// A named reranker is attached; a recorded one too, unless none.
	c := &rag.RerankConfig{URL: "http://127.0.0.1:1", Depth: 5}
	if got := WithRerank(r, c, false, &warn); got.(StoreRetriever).Rerank == nil {
		t.Error("the named reranker was not attached")
	}
	if err := rag.WriteRerankConfig(dir, c); err != nil {
		t.Fatal(err)
	}
	if got := WithRerank(r, nil, false, &warn); got.(StoreRetriever).Rerank == nil {
		t.Error("the recorded reranker was not attached")
	}
	if got := WithRerank(r, nil, true, &warn); got.(StoreRetriever).Rerank != nil {
		t.Error("none still attached the recorded reranker")
	}
	// Other retrievers have nothing to rerank with and come back as they are.
	mem := fixedRetriever{{ID: "1", Text: "x"}}
	if got := WithRerank(mem, c, false, &warn); got == nil {
		t.Error("a memory retriever was dropped")
	} else if _, ok := got.(fixedRetriever); !ok {
		t.Errorf("a memory retriever came back as %T", got)
	}
}
