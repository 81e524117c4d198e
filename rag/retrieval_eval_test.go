package rag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
