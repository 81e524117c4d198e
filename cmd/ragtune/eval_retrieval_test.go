package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rerankByWord is a /v1/rerank server that scores a document 1 when it
// holds word and 0 otherwise.
func rerankByWord(word string, calls *int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Documents []string `json:"documents"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		*calls++
		type res struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		}
		var out []res
		for i, d := range req.Documents {
			s := 0.0
			if strings.Contains(d, word) {
				s = 1
			}
			out = append(out, res{i, s})
		}
		json.NewEncoder(w).Encode(map[string]any{"results": out})
	}))
}

func TestEvalRetrievalBEIR(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"corpus.jsonl": `{"_id":"d1","title":"Kidney stones","text":"hard mineral deposits"}
{"_id":"d2","title":"Diabetes","text":"high blood sugar; zebra"}
{"_id":"d3","title":"Liver","text":"the liver filters blood sugar"}
`,
		"queries.jsonl": `{"_id":"q1","text":"kidney stones"}
{"_id":"q2","text":"liver blood sugar"}
{"_id":"q3","text":"unjudged"}
`,
		"qrels.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\tnope\t1\n",
	})
	args := []string{"eval", "retrieval", "--corpus", filepath.Join(dir, "corpus.jsonl"), "--queries", filepath.Join(dir, "queries.jsonl"), "--qrels", filepath.Join(dir, "qrels.tsv"), "--json"}
	code, out, stderr := runCaptured(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	// q2's words favour d3 (liver): BM25 ranks d2 second.
	if m["recall@1"] != 0.5 || m["queries_without_qrels"] != 1.0 || m["questions"] != 2.0 {
		t.Errorf("bm25: %s", out)
	}
	if ids, _ := m["missing_doc_ids"].([]any); len(ids) != 1 || ids[0] != "nope" {
		t.Errorf("missing ids not reported: %s", out)
	}

	// A reranker preferring "zebra" lifts d2 to first for q2.
	calls := 0
	srv := rerankByWord("zebra", &calls)
	defer srv.Close()
	code, out, stderr = runCaptured(t, append(args, "--rerank-url", srv.URL, "--rerank-depth", "3")...)
	if code != 0 {
		t.Fatalf("rerank exit %d: %s", code, stderr)
	}
	json.Unmarshal([]byte(out), &m)
	if m["mrr@10"] != 1.0 || calls != 2 {
		t.Errorf("reranked mrr@10 %v after %d server calls, want 1 after 2: %s", m["mrr@10"], calls, out)
	}

	for _, bad := range [][]string{
		{"eval", "retrieval", "--queries", "q", "--qrels", "r"},
		{"eval", "retrieval", "--corpus", "c", "--kb", "x", "--queries", "q", "--qrels", "r"},
		{"eval", "retrieval", "--corpus", "c", "--queries", "q"},
		{"eval", "retrieval", "--cmrc", "x", "--rerank-url", "u", "--rerank-path", "p"},
		{"eval", "retrieval", "--cmrc", "x", "--rerank-depth", "0"},
	} {
		if code, _, stderr := runCaptured(t, bad...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", bad, code, stderr)
		}
	}
}

func TestEvalRetrievalKB(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"kidney.md": "# Kidney\n\nKidney stones are hard mineral deposits.\n",
		"liver.md":  "# Liver\n\nThe liver filters blood.\n",
	})
	root := filepath.Join(t.TempDir(), "kbs")
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "med", "--kb-dir", root, "--quiet", src); code != 0 {
		t.Fatalf("ingest exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"queries.jsonl": `{"_id":"q1","text":"kidney stones"}` + "\n" + `{"_id":"q2","text":"what filters blood"}` + "\n",
		"qrels.tsv":     "q1\tkidney.md\t1\nq2\tliver.md\t1\nq2\tgone.md\t1\n",
	})
	code, out, stderr := runCaptured(t, "eval", "retrieval", "--kb", "med", "--kb-dir", root, "--queries", filepath.Join(dir, "queries.jsonl"), "--qrels", filepath.Join(dir, "qrels.tsv"), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m map[string]any
	json.Unmarshal([]byte(out), &m)
	if m["recall@1"] != 1.0 || m["questions"] != 2.0 || m["chunks"] != 2.0 {
		t.Errorf("kb eval: %s", out)
	}
	if ids, _ := m["missing_doc_ids"].([]any); len(ids) != 1 || ids[0] != "gone.md" {
		t.Errorf("missing file not reported: %s", out)
	}
}

// TestAskRerank: a knowledge base remembers the reranker named at ingest,
// kb stats shows it, ask reranks with it (a /v1/rerank server preferring
// "zebra" lifts the chunk BM25 ranks second), and --no-rerank and a local
// cross-encoder override it.
func TestAskRerank(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"a.md": "# Kidney\n\nkidney stones kidney stones kidney stones\n",
		"b.md": "# Zebra\n\nkidney stones in a zebra\n",
	})
	calls := 0
	srv := rerankByWord("zebra", &calls)
	defer srv.Close()
	root := filepath.Join(t.TempDir(), "kbs")
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "r", "--kb-dir", root, "--quiet", "--rerank-url", srv.URL, "--rerank-depth", "5", src); code != 0 {
		t.Fatalf("ingest exit %d: %s", code, stderr)
	}
	code, out, _ := runCaptured(t, "kb", "stats", "--kb", "r", "--kb-dir", root)
	if code != 0 || !strings.Contains(out, "reranker        "+srv.URL) || !strings.Contains(out, "depth 5") {
		t.Errorf("kb stats does not show the reranker:\n%s", out)
	}
	top := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCaptured(t, append([]string{"ask", "--kb", "r", "--kb-dir", root, "--json", "--top-k", "1"}, args...)...)
		if code != 0 {
			t.Fatalf("ask %q exit %d: %s", args, code, stderr)
		}
		var rows []struct {
			Source string `json:"source"`
		}
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("ask output %s (%v)", out, err)
		}
		return filepath.Base(rows[0].Source)
	}
	if got := top("kidney stones"); got != "b.md" || calls != 1 {
		t.Errorf("reranked top %s after %d calls, want b.md after 1", got, calls)
	}
	if got := top("--no-rerank", "kidney stones"); got != "a.md" || calls != 1 {
		t.Errorf("--no-rerank top %s after %d calls, want a.md with no call", got, calls)
	}
	if code, _, stderr := runCaptured(t, "ask", "--kb", "r", "--kb-dir", root, "--rerank-path", filepath.Join(src, "none"), "kidney stones"); code != 1 || !strings.Contains(stderr, "load reranker") {
		t.Errorf("missing local reranker: exit %d, %s", code, stderr)
	}
}
