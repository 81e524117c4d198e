package rag

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestRemoteEmbedder(t *testing.T) {
	var calls, maxBatch int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
			http.Error(w, "bad route "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		if got := r.Header.Get("Authorization"); got != "Bearer k" {
			http.Error(w, "bad auth "+got, http.StatusUnauthorized)
			return
		}
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "bge" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		calls++
		maxBatch = max(maxBatch, len(req.Input))
		// Reply out of order with vector [len(text), index] to check
		// that the client reorders by index.
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var data []item
		for i := len(req.Input) - 1; i >= 0; i-- {
			data = append(data, item{i, []float32{float32(len(req.Input[i])), float32(i)}})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	}))
	defer srv.Close()

	texts := make([]string, 150)
	for i := range texts {
		texts[i] = strings.Repeat("x", i)
	}
	e := RemoteEmbedder(srv.URL, "bge", "k", srv.Client())
	vecs, err := e(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || maxBatch != 64 {
		t.Errorf("calls=%d maxBatch=%d, want 3 and 64", calls, maxBatch)
	}
	for i, v := range vecs {
		if want := []float32{float32(i), float32(i % 64)}; !reflect.DeepEqual(v, want) {
			t.Fatalf("vector %d = %v, want %v", i, v, want)
		}
	}
	bad := RemoteEmbedder(srv.URL+"/v1", "other", "k", srv.Client())
	if _, err := bad(context.Background(), []string{"a"}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("bad model error = %v, want a 400", err)
	}
}
