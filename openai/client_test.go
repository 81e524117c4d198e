package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEventRoundTrip: what EventWriter sends, EventReader reads back,
// ending at [DONE] even when more follows.
func TestEventRoundTrip(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewEventWriter(rec)
	for _, v := range []any{map[string]int{"a": 1}, ChatChunk{ID: "x", Choices: []ChunkChoice{}}} {
		if err := w.Send(v); err != nil {
			t.Fatal(err)
		}
	}
	w.Done()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q", ct)
	}
	body := ": comment\nevent: x\n" + rec.Body.String() + "data: {\"after\":1}\n\n"
	r := NewEventReader(strings.NewReader(body))
	var got []string
	for {
		d, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(d))
	}
	want := `{"a":1}|{"id":"x","object":"","created":0,"model":"","choices":[]}`
	if strings.Join(got, "|") != want {
		t.Errorf("events %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestAPIErrorForms(t *testing.T) {
	cases := []struct {
		body, msg, typ, code string
	}{
		{`{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded","param":null}}`, "too long", "invalid_request_error", "context_length_exceeded"},
		{`{"error":{"message":"m","code":400}}`, "m", "", "400"},
		{`{"error":"model not found"}`, "model not found", "", ""},
		{"plain text\n", "plain text", "", ""},
	}
	for _, tc := range cases {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, tc.body)
		}))
		_, err := NewClient(ts.URL+"/v1/", "", nil).Models(context.Background())
		ts.Close()
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != tc.msg || ae.Type != tc.typ || ae.Code != tc.code {
			t.Errorf("%s: %#v (%v)", tc.body, ae, err)
		}
	}
	if !(&APIError{Message: "This model's maximum context length is 4096 tokens"}).ContextLengthExceeded() {
		t.Error("vLLM's context-length wording not recognized")
	}
}

// TestStream: a chat stream's chunks, the request as sent, and an error
// event in mid-stream.
func TestStream(t *testing.T) {
	var sent map[string]any
	var auth, path string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		json.NewDecoder(r.Body).Decode(&sent)
		ew := NewEventWriter(w)
		ew.Send(ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Content: "hi"}}}})
		ew.Send(NewError(TypeServer, "engine failed", "", "boom"))
		ew.Done()
	}))
	defer ts.Close()
	c := NewClient(ts.URL, "sk", ts.Client())
	max := 5
	s, err := c.StreamChat(context.Background(), &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: "q"}},
		SamplingParams: SamplingParams{MaxTokens: &max}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if auth != "Bearer sk" || path != "/v1/chat/completions" {
		t.Errorf("auth %q path %q", auth, path)
	}
	b, _ := json.Marshal(sent)
	if got, want := string(b), `{"max_tokens":5,"messages":[{"content":"q","role":"user"}],"model":"m","stream":true,"stream_options":{"include_usage":true}}`; got != want {
		t.Errorf("request %s\nwant    %s", got, want)
	}
	if !s.Events() {
		t.Fatal("not read as a stream")
	}
	var c1 ChatChunk
	if err := s.Next(&c1); err != nil || c1.Choices[0].Delta.Content != "hi" {
		t.Fatalf("first chunk %+v, %v", c1, err)
	}
	var ae *APIError
	if err := s.Next(&c1); !errors.As(err, &ae) || ae.Message != "engine failed" || ae.Code != "boom" {
		t.Errorf("error event: %v", err)
	}
	if err := s.Next(&c1); err != io.EOF {
		t.Errorf("after [DONE]: %v", err)
	}
}

func TestEmbeddingsAndRerank(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/embeddings":
			var req EmbeddingRequest
			json.NewDecoder(r.Body).Decode(&req)
			// Out of order, one as base64, as servers may answer.
			resp := EmbeddingResponse{Object: "list", Data: []Embedding{
				{Index: 1, Embedding: Vector{Floats: []float32{float32(len(req.Input[1])), -0.5}, Base64: true}},
				{Index: 0, Embedding: Vector{Floats: []float32{float32(len(req.Input[0])), 0.25}}},
			}}
			json.NewEncoder(w).Encode(resp)
		case "/v1/rerank":
			fmt.Fprint(w, `{"results":[{"index":1,"relevance_score":0.5},{"index":0,"relevance_score":-1}]}`)
		}
	}))
	defer ts.Close()
	c := NewClient(ts.URL+"/v1", "", nil)
	v, err := c.Embeddings(context.Background(), "e", []string{"a", "abc"})
	if err != nil || fmt.Sprint(v) != "[[1 0.25] [3 -0.5]]" {
		t.Errorf("embeddings %v, %v", v, err)
	}
	if _, err := c.Embeddings(context.Background(), "e", []string{"a", "b", "c"}); err == nil {
		t.Error("two vectors for three inputs accepted")
	}
	s, err := c.Rerank(context.Background(), "r", "q", []string{"x", "y"})
	if err != nil || fmt.Sprint(s) != "[-1 0.5]" {
		t.Errorf("rerank %v, %v", s, err)
	}
}

// TestVectorForms: a float list stays a list; base64 is little-endian
// float32, and both read back to the same numbers.
func TestVectorForms(t *testing.T) {
	f := []float32{1, -2.5}
	b, _ := json.Marshal(Vector{Floats: f})
	if string(b) != "[1,-2.5]" {
		t.Errorf("list form %s", b)
	}
	b64, _ := json.Marshal(Vector{Floats: f, Base64: true})
	if string(b64) != `"AACAPwAAIMA="` {
		t.Errorf("base64 form %s", b64)
	}
	for _, in := range [][]byte{b, b64} {
		var v Vector
		if err := json.Unmarshal(in, &v); err != nil || fmt.Sprint(v.Floats) != "[1 -2.5]" {
			t.Errorf("%s → %v, %v", in, v.Floats, err)
		}
	}
	var v Vector
	if err := json.Unmarshal([]byte(`"AAA="`), &v); err == nil {
		t.Error("base64 of 2 bytes accepted")
	}
}
