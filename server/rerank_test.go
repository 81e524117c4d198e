package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"ragtune/openai"
	"ragtune/rag"
)

// keywordScorer scores a document by how often it holds the word
// "tokyo" or "东京", so the expected order is known without a model.
func keywordScorer(calls *atomic.Int32) rag.RerankScorer {
	return func(_ context.Context, query string, docs []string) ([]float64, error) {
		if calls != nil {
			calls.Add(1)
		}
		out := make([]float64, len(docs))
		for i, d := range docs {
			l := strings.ToLower(d)
			out[i] = float64(strings.Count(l, "tokyo")+strings.Count(l, "东京")) - float64(i)/100
		}
		return out, nil
	}
}

func TestRerankEndpoint(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{}, Rerank: keywordScorer(nil), RerankModel: "kw"})
	st, b := do(t, "POST", ts.URL+"/v1/rerank", `{"query":"capital of Japan","documents":["Paris","Tokyo is big; Tokyo","东京","Rome"],"top_n":3,"return_documents":true}`)
	if st != 200 {
		t.Fatalf("rerank: %d %s", st, b)
	}
	var resp openai.RerankResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resp.Results {
		got = append(got, fmt.Sprintf("%d:%s", r.Index, r.Document.Text))
	}
	if want := "1:Tokyo is big; Tokyo 2:东京 0:Paris"; strings.Join(got, " ") != want || resp.Model != "kw" {
		t.Errorf("results %v model %q, want %s", got, resp.Model, want)
	}

	// rag's remote reranker reads the endpoint back in document order.
	scores, err := rag.RemoteReranker(ts.URL, "kw", "", nil)(context.Background(), "q", []string{"a", "tokyo", "东京 tokyo"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%.2f", scores) != "[0.00 0.99 1.98]" {
		t.Errorf("remote reranker scores %.2f", scores)
	}

	for _, c := range []struct{ name, body, want string }{
		{"no query", `{"query":" ","documents":["a"]}`, "query is required"},
		{"no documents", `{"query":"q","documents":[]}`, "non-empty"},
		{"negative top_n", `{"query":"q","documents":["a"],"top_n":-1}`, "top_n"},
		{"too many", `{"query":"q","documents":[` + strings.Repeat(`"a",`, maxRerankDocs) + `"a"]}`, "at most"},
	} {
		st, b := do(t, "POST", ts.URL+"/v1/rerank", c.body)
		if st != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", c.name, st, b, c.want)
		}
	}

	_, bare := testServer(t, Config{Engine: &scripted{}})
	st, b = do(t, "POST", bare.URL+"/v1/rerank", `{"query":"q","documents":["a"]}`)
	if st != 501 || !strings.Contains(string(b), "--rerank-path") {
		t.Errorf("without a reranker: %d %s", st, b)
	}
}

// TestKBQueryUsesRecordedReranker: a knowledge base that records a
// reranker (as 'ragtune ingest --rerank-url' writes it) gets it on the
// query API and in KB chat, once per distinct configuration, and
// "rerank": false / "kb_rerank": false turn it off.
func TestKBQueryUsesRecordedReranker(t *testing.T) {
	var calls atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req openai.RerankRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		scores, _ := keywordScorer(&calls)(r.Context(), req.Query, req.Documents)
		var resp openai.RerankResponse
		for i := range scores {
			resp.Results = append(resp.Results, openai.RerankResult{Index: i, RelevanceScore: &scores[i]})
		}
		json.NewEncoder(w).Encode(resp)
	}))
	defer remote.Close()

	kbDir := t.TempDir()
	eng := &scripted{answer: []string{"Tokyo [1]."}}
	_, ts := testServer(t, Config{Engine: eng, KBDir: kbDir})
	if st, b := do(t, "POST", ts.URL+"/v1/kb", `{"name":"geo"}`); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	for name, text := range map[string]string{
		"capitals.md": "# Capitals\n\nThe capital of a country is its seat of government. Every capital has a capital city.\n",
		"japan.md":    "# Japan\n\nTokyo is the capital of Japan. 东京在日本。\n",
	} {
		if st, b := upload(t, ts.URL+"/v1/kb/geo/documents", name, []byte(text)); st != 201 {
			t.Fatalf("upload %s: %d %s", name, st, b)
		}
	}
	first := func(body []byte) string {
		var r struct {
			Data []openai.Citation `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Data) == 0 {
			t.Fatalf("query answer %s: %v", body, err)
		}
		return r.Data[0].Source
	}
	query := `{"query":"capital capital","top_k":2}`
	st, b := do(t, "POST", ts.URL+"/v1/kb/geo/query", query)
	if st != 200 || first(b) != "capitals.md" {
		t.Fatalf("BM25 without a reranker: %d %s", st, b)
	}

	if err := rag.WriteRerankConfig(filepath.Join(kbDir, "geo"), &rag.RerankConfig{URL: remote.URL, Depth: 10}); err != nil {
		t.Fatal(err)
	}
	st, b = do(t, "POST", ts.URL+"/v1/kb/geo/query", query)
	if st != 200 || first(b) != "japan.md" || calls.Load() != 1 {
		t.Errorf("with the recorded reranker: %d calls %d %s", st, calls.Load(), b)
	}
	st, b = do(t, "POST", ts.URL+"/v1/kb/geo/query", `{"query":"capital capital","top_k":2,"rerank":false}`)
	if st != 200 || first(b) != "capitals.md" || calls.Load() != 1 {
		t.Errorf("rerank false: %d calls %d %s", st, calls.Load(), b)
	}

	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:geo","kb_top_k":1,"messages":[{"role":"user","content":"capital capital"}]}`)
	if st != 200 || !strings.Contains(string(b), "japan.md") || calls.Load() != 2 {
		t.Errorf("KB chat with the recorded reranker: %d calls %d %s", st, calls.Load(), b)
	}
	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:geo","kb_top_k":1,"kb_rerank":false,"messages":[{"role":"user","content":"capital capital"}]}`)
	if st != 200 || strings.Contains(string(b), "japan.md") || calls.Load() != 2 {
		t.Errorf("KB chat with kb_rerank false: %d calls %d %s", st, calls.Load(), b)
	}
}
