package rag

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"ragtune/index"
)

// fakeRerankServer scores a document by how many query words it contains
// and returns the results best first, as real servers do.
func fakeRerankServer(t *testing.T, seen *[]map[string]any) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/rerank" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var req struct {
			Model     string   `json:"model"`
			Query     string   `json:"query"`
			Documents []string `json:"documents"`
			TopN      int      `json:"top_n"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		*seen = append(*seen, map[string]any{"model": req.Model, "n": len(req.Documents), "top_n": req.TopN})
		type res struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		}
		var out []res
		for i, d := range req.Documents {
			s := 0.0
			for _, w := range strings.Fields(req.Query) {
				if strings.Contains(d, w) {
					s++
				}
			}
			out = append(out, res{i, s})
		}
		// Best first, the order servers answer in; the client must map by index.
		for i := range out {
			for j := i + 1; j < len(out); j++ {
				if out[j].Score > out[i].Score {
					out[i], out[j] = out[j], out[i]
				}
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"model": req.Model, "results": out[:min(req.TopN, len(out))]})
	}))
}

func TestRemoteReranker(t *testing.T) {
	var seen []map[string]any
	srv := fakeRerankServer(t, &seen)
	defer srv.Close()
	score := RemoteReranker(srv.URL+"/v1", "bge-reranker", "k", srv.Client())
	docs := make([]string, 70) // more than one request's batch
	for i := range docs {
		docs[i] = "filler"
	}
	docs[3], docs[66] = "red apple", "apple"
	got, err := score(context.Background(), "red apple", docs)
	if err != nil {
		t.Fatal(err)
	}
	if got[3] != 2 || got[66] != 1 || got[0] != 0 || len(got) != 70 {
		t.Errorf("scores[3,66,0] = %v %v %v (len %d), want 2 1 0 (70)", got[3], got[66], got[0], len(got))
	}
	if len(seen) != 2 || seen[0]["n"] != 64 || seen[0]["top_n"] != 64 || seen[1]["n"] != 6 || seen[0]["model"] != "bge-reranker" {
		t.Errorf("requests %v, want 64 then 6 documents, top_n = all, model sent", seen)
	}

	if _, err := RemoteReranker(srv.URL, "", "wrong", srv.Client())(context.Background(), "q", []string{"a"}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad key: error %v, want the 401 status", err)
	}
}

func TestRemoteRerankerShortAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"results":[{"index":1,"relevance_score":0.5}]}`))
	}))
	defer srv.Close()
	_, err := RemoteReranker(srv.URL, "", "", nil)(context.Background(), "q", []string{"a", "b"})
	if err == nil || !strings.Contains(err.Error(), "no score for document 0") {
		t.Errorf("error %v, want a missing-score error", err)
	}
}

func TestNewRerankerDepth(t *testing.T) {
	texts := map[string]string{"a": "x", "b": "xx", "c": "xxx", "d": "xxxx"}
	byLen := func(_ context.Context, _ string, docs []string) ([]float64, error) {
		out := make([]float64, len(docs))
		for i, d := range docs {
			out[i] = float64(len(d))
		}
		return out, nil
	}
	hits := []index.Hit{{ID: "a", Score: 4}, {ID: "b", Score: 3}, {ID: "c", Score: 2}, {ID: "d", Score: 1}}
	rr := NewReranker(byLen, func(id string) (string, bool) { t, ok := texts[id]; return t, ok }, 3)
	got, err := rr(context.Background(), "q", hits)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range got {
		ids = append(ids, h.ID)
	}
	// Only the first three are rescored; d keeps its place after them.
	if !reflect.DeepEqual(ids, []string{"c", "b", "a", "d"}) {
		t.Errorf("order %v, want [c b a d]", ids)
	}
	if hits[0].ID != "a" {
		t.Error("reranker modified its input")
	}
	if _, err := rr(context.Background(), "q", []index.Hit{{ID: "zz"}}); err == nil {
		t.Error("a candidate without text gave no error")
	}
}
