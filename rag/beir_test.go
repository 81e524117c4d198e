package rag

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/internal/shareddata"
)

func writeBEIR(t *testing.T, corpus, queries, qrels string) (string, string, string) {
	t.Helper()
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "corpus.jsonl"), filepath.Join(dir, "queries.jsonl"), filepath.Join(dir, "qrels.tsv")}
	for i, s := range []string{corpus, queries, qrels} {
		if err := os.WriteFile(paths[i], []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths[0], paths[1], paths[2]
}

func TestLoadBEIREdgeCases(t *testing.T) {
	corpus := `{"_id": "d1", "title": "Kidney", "text": "kidney stones form from minerals"}
{"_id": 2, "title": "", "text": "diabetes affects blood sugar"}

{"_id": "d3", "text": "the liver filters blood"}
`
	queries := `{"_id": "q1", "text": "what are kidney stones"}
{"_id": "q2", "text": "blood sugar"}
{"_id": "q3", "text": "no judgments for me"}
{"_id": "q4", "text": "only judged non-relevant"}
`
	// Header, graded scores, a zero score, a TREC four-column line, an
	// unknown document and an unknown query.
	qrels := "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td3\t1\nq2 0 2 1\nq4\td1\t0\nq2\tgone\t1\nq9\td1\t1\n"
	set, err := LoadBEIR(writeBEIR(t, corpus, queries, qrels))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Docs) != 3 || set.Docs[1].ID != "2" || set.Docs[0].Title != "Kidney" {
		t.Errorf("docs %+v", set.Docs)
	}
	if len(set.Queries) != 2 || set.NoQrels != 2 {
		t.Fatalf("queries %+v, no-qrels %d; want q1, q2 and 2 skipped", set.Queries, set.NoQrels)
	}
	if want := map[string]int{"d1": 2, "d3": 1}; !reflect.DeepEqual(set.Queries[0].Rel, want) {
		t.Errorf("q1 rel %v, want %v", set.Queries[0].Rel, want)
	}
	if want := map[string]int{"2": 1}; !reflect.DeepEqual(set.Queries[1].Rel, want) {
		t.Errorf("q2 rel %v, want %v", set.Queries[1].Rel, want)
	}
	if !reflect.DeepEqual(set.MissingDocs, []string{"gone"}) || !reflect.DeepEqual(set.MissingQueries, []string{"q9"}) {
		t.Errorf("missing docs %v queries %v", set.MissingDocs, set.MissingQueries)
	}
}

func TestLoadBEIRErrors(t *testing.T) {
	ok := `{"_id": "d1", "text": "x"}` + "\n"
	for name, c := range map[string][3]string{
		"duplicate doc":   {ok + ok, `{"_id":"q","text":"x"}`, ""},
		"duplicate query": {ok, `{"_id":"q","text":"x"}` + "\n" + `{"_id":"q","text":"y"}`, ""},
		"no id":           {`{"text": "x"}`, "", ""},
		"bad json":        {ok + "{nope\n", "", ""},
		"bad score":       {ok, `{"_id":"q","text":"x"}`, "q-id\tc-id\tscore\nq\td1\thigh\n"},
		"short line":      {ok, `{"_id":"q","text":"x"}`, "q\td1\n"},
	} {
		_, err := LoadBEIR(writeBEIR(t, c[0], c[1], c[2]))
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), ":") {
			t.Errorf("%s: error %q names no file", name, err)
		}
	}
}

func TestScoreRankingGraded(t *testing.T) {
	rel := map[string]int{"a": 2, "b": 1}
	s := scoreRanking(rel, []string{"x", "b", "y", "a"})
	// DCG = 1/log2(3) + 2/log2(5); IDCG = 2/log2(2) + 1/log2(3).
	dcg := 1/math.Log2(3) + 2/math.Log2(5)
	idcg := 2 + 1/math.Log2(3)
	if math.Abs(s.ndcg-dcg/idcg) > 1e-12 || s.mrr != 0.5 || s.r1 != 0 || s.r5 != 1 || s.r10 != 1 {
		t.Errorf("scores %+v, want ndcg %.6f mrr 0.5 r1 0 r5 1 r10 1", s, dcg/idcg)
	}
	s = scoreRanking(rel, []string{"a", "a", "c"})
	if s.r1 != 0.5 || s.mrr != 1 || math.Abs(s.ndcg-2/idcg) > 1e-12 {
		t.Errorf("duplicate-id ranking scores %+v", s)
	}
}

func TestBEIRRunBM25(t *testing.T) {
	corpus := `{"_id": "d1", "title": "Kidney stones", "text": "hard deposits of minerals"}
{"_id": "d2", "title": "Diabetes", "text": "high blood sugar over time"}
{"_id": "d3", "title": "Liver", "text": "the liver filters blood"}
`
	queries := `{"_id": "q1", "text": "kidney stones"}
{"_id": "q2", "text": "blood sugar"}
`
	set, err := LoadBEIR(writeBEIR(t, corpus, queries, "q1\td1\t1\nq2\td2\t1\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := set.Run(context.Background(), DefaultBEIROptions())
	if err != nil {
		t.Fatal(err)
	}
	if m.Recall1 != 1 || m.Questions != 2 || m.Chunks != 3 {
		t.Errorf("metrics %+v, want recall@1 1 over 2 queries and 3 docs (the title is indexed)", m)
	}
}

func TestBEIRNIDDK(t *testing.T) {
	dir := shareddata.Path(t, "medquad/niddk_beir")
	set, err := LoadBEIR(filepath.Join(dir, "corpus.jsonl"), filepath.Join(dir, "queries.jsonl"), filepath.Join(dir, "qrels.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Docs) != 1192 || len(set.MissingDocs) != 0 {
		t.Errorf("%d docs, missing %v; want 1192 and none", len(set.Docs), set.MissingDocs)
	}
	m, err := set.Run(context.Background(), DefaultBEIROptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NIDDK bm25: %+v", m)
	if m.Recall10 < 0.3 {
		t.Errorf("recall@10 %.3f: BM25 should find most answers within 10", m.Recall10)
	}
}
