package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestRetrievalChoiceOptions(t *testing.T) {
	base := RetrievalChoice{Method: "ours", Mode: ModeBM25, K1: 1.2, B: 0.75, DocWeight: -1, Fusion: FusionRRF, DenseWeight: 0.5}
	o, err := base.Options()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultBEIROptions()
	if o.TitleContext != want.TitleContext || o.DocWeight != want.DocWeight || o.Params.K1 != 1.2 || o.Params.B != 0.75 || o.Fusion != FusionRRF {
		t.Errorf("BEIR ours: %+v, want the BEIR defaults with k1 1.2 b 0.75", o)
	}
	c := base
	c.CMRC = true
	if o, _ = c.Options(); !o.TitleContext || o.DocWeight != DefaultCMRCOptions().DocWeight {
		t.Errorf("CMRC ours: %+v, want title context and the CMRC doc weight", o)
	}
	c.Method, c.TitleContext, c.DocWeight = "baseline", "true", 0.2
	if o, _ = c.Options(); !o.TitleContext || o.DocWeight != 0.2 {
		t.Errorf("baseline with overrides: %+v", o)
	}
	for _, bad := range []struct {
		edit func(*RetrievalChoice)
		err  string
	}{
		{func(c *RetrievalChoice) { c.Method = "best" }, `--method must be ours or baseline, got "best"`},
		{func(c *RetrievalChoice) { c.Tokens = "bytes" }, "--tokens must be chars, words or views"},
		{func(c *RetrievalChoice) { c.TitleContext = "yes" }, "--title-context must be true or false"},
		{func(c *RetrievalChoice) { c.Fusion = "max" }, "--fusion must be rrf or relative"},
		{func(c *RetrievalChoice) { c.Mode = ModeDense }, "--mode dense needs an embedder"},
	} {
		c := base
		bad.edit(&c)
		if _, err := c.Options(); err == nil || !strings.Contains(err.Error(), bad.err) || !errors.Is(err, cli.ErrUsage) {
			t.Errorf("want usage error %q, got %v", bad.err, err)
		}
	}
	c = base
	c.Mode, c.EmbedURL = ModeHybrid, "http://e"
	if o, err = c.Options(); err != nil || o.Embed == nil {
		t.Errorf("hybrid with --embed-url: %v, embedder %v", err, o.Embed != nil)
	}
}

func TestRunBEIRFilesAndReport(t *testing.T) {
	corpus := `{"_id": "d1", "title": "Kidney stones", "text": "hard deposits of minerals"}
{"_id": "d2", "title": "Diabetes", "text": "high blood sugar over time"}
`
	queries := `{"_id": "q1", "text": "kidney stones"}
{"_id": "q2", "text": "blood sugar"}
{"_id": "q3", "text": "no judgment"}
`
	cp, qp, rp := writeBEIR(t, corpus, queries, "q1\td1\t1\nq2\td2\t1\nq9\td1\t1\n")
	set, m, err := RunBEIRFiles(context.Background(), cp, qp, rp, DefaultBEIROptions())
	if err != nil {
		t.Fatal(err)
	}
	if m.Recall1 != 1 || m.Questions != 2 {
		t.Errorf("metrics %+v", m)
	}
	var b bytes.Buffer
	if err := WriteBEIRReport(&b, set, m, "2 documents, mode bm25", true); err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["recall@1"] != 1.0 || rep["queries_without_qrels"] != 1.0 || rep["missing_query_ids"] == nil {
		t.Errorf("JSON report %v", rep)
	}
	b.Reset()
	if err := WriteBEIRReport(&b, set, m, "2 documents, mode bm25", false); err != nil {
		t.Fatal(err)
	}
	if want := set.String() + "; 2 documents, mode bm25\nrecall@1  1.0000\n"; !strings.HasPrefix(b.String(), want) || !strings.HasSuffix(b.String(), "ndcg@10   1.0000\n") {
		t.Errorf("text report:\n%s", b.String())
	}

	// No judged query that names a document: an error, not a zero score.
	cp, qp, rp = writeBEIR(t, corpus, queries, "q3\td9\t1\n")
	if _, _, err := RunBEIRFiles(context.Background(), cp, qp, rp, DefaultBEIROptions()); err == nil || !strings.Contains(err.Error(), "has a positive judgment") {
		t.Errorf("unjudged set: %v", err)
	}
}

func TestRunCMRCFileAndJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cmrc.json")
	os.WriteFile(p, []byte(`{"data": [{"title": "肾结石", "paragraphs": [{"context": "肾结石是矿物质在肾脏中形成的硬块。糖尿病是血糖长期偏高。", "qas": [{"id": "1", "question": "什么是肾结石？", "answers": [{"text": "矿物质在肾脏中形成的硬块", "answer_start": 4}]}]}]}]}`), 0o644)
	set, m, err := RunCMRCFile(context.Background(), p, 10, BaselineOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Questions) != 1 || m.Questions != 1 || m.Recall1 != 1 {
		t.Errorf("set of %d questions, metrics %+v", len(set.Questions), m)
	}
	var b bytes.Buffer
	if err := m.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got["recall@1"] != 1 || got["questions"] != 1 {
		t.Errorf("JSON %s (%v)", b.String(), err)
	}
	if _, _, err := RunCMRCFile(context.Background(), filepath.Join(t.TempDir(), "none.json"), 10, BaselineOptions()); err == nil {
		t.Error("a missing file was no error")
	}
}

func TestRunKBFiles(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.md"), []byte("kidney stones are hard deposits of minerals"), 0o644)
	os.WriteFile(filepath.Join(src, "b.md"), []byte("diabetes means high blood sugar"), 0o644)
	dir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(dir, StoreConfig{Name: "t", ChunkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(context.Background(), []string{src}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, qp, rp := writeBEIR(t, "", `{"_id": "q1", "text": "kidney stones"}`+"\n"+`{"_id": "q2", "text": "blood sugar"}`+"\n", "q1\ta.md\t1\nq2\tb.md\t1\n")
	var warn bytes.Buffer
	set, m, o, err := RunKBFiles(context.Background(), dir, "t", qp, rp, KBEvalOptions{Query: Query{Mode: ModeBM25}}, true, &warn)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Queries) != 2 || m.Recall1 != 1 || o.Rerank != nil || warn.Len() != 0 {
		t.Errorf("%d queries, %+v, reranked %v, warning %q", len(set.Queries), m, o.Rerank != nil, warn.String())
	}
	// A recorded reranker is used unless told not to.
	if err := WriteRerankConfig(dir, &RerankConfig{URL: "http://127.0.0.1:1", Depth: 2}); err != nil {
		t.Fatal(err)
	}
	if _, _, o, _ := RunKBFiles(context.Background(), dir, "t", qp, rp, KBEvalOptions{}, true, &warn); o.Rerank == nil || o.RerankDepth != 2 {
		t.Errorf("the recorded reranker was not used: %+v", o)
	}
	if _, _, o, err := RunKBFiles(context.Background(), dir, "t", qp, rp, KBEvalOptions{}, false, &warn); err != nil || o.Rerank != nil {
		t.Errorf("useRecorded false still reranked (%v)", err)
	}
	_, qp, rp = writeBEIR(t, "", `{"_id": "q1", "text": "x"}`+"\n", "q1\tnone.md\t1\n")
	if _, _, _, err := RunKBFiles(context.Background(), dir, "t", qp, rp, KBEvalOptions{}, false, &warn); err == nil || !strings.Contains(err.Error(), `knowledge base "t"`) {
		t.Errorf("qrels naming no file: %v", err)
	}
	if _, _, _, err := RunKBFiles(context.Background(), filepath.Join(t.TempDir(), "none"), "none", qp, rp, KBEvalOptions{}, false, &warn); !errors.Is(err, ErrNoKB) {
		t.Errorf("a missing knowledge base: %v, want ErrNoKB", err)
	}
}

func TestDescribeQueryInstruction(t *testing.T) {
	if got := DescribeQueryInstruction("plain-model"); got != "query prefix    none" {
		t.Errorf("got %q", got)
	}
	want := fmt.Sprintf("query prefix    %q", QueryInstruction("BAAI/bge-small-zh-v1.5"))
	if QueryInstruction("BAAI/bge-small-zh-v1.5") == "" {
		t.Fatal("bge-small-zh has no query instruction")
	}
	if got := DescribeQueryInstruction("BAAI/bge-small-zh-v1.5"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
