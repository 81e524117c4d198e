package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzServer is one server shared by the iterations of a fuzz target: a
// scripted engine, so what is fuzzed is decoding and validation.
func fuzzServer(t testing.TB) *Server {
	s, err := New(Config{Engine: &scripted{reasoning: []string{"r"}, answer: []string{"a ", "b"}}, ModelName: "tiny",
		KBDir: t.TempDir(), MaxBodyBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var requestSeeds = []string{
	`{"model":"tiny","messages":[{"role":"user","content":"hi"}]}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"stream_options":{"include_usage":true}}`,
	`{"messages":[{"role":"system","content":"s"},{"role":"assistant","content":null,"reasoning_content":"r"},{"role":"user","content":"q"}],"stop":"x","max_tokens":3,"temperature":0.5,"top_p":0.9,"top_k":-1,"seed":-5}`,
	`{"messages":[{"role":"user","content":"a"}],"kb":"../x"}`,
	`{"model":"rag:none","messages":[{"role":"user","content":"a"}]}`,
	`{"messages":[{"role":"user","content":"a"}],"chat_template_kwargs":{"enable_thinking":false},"n":1}`,
	`{"messages":[{"role":"user","content":"a"}],"max_completion_tokens":1e300}`,
	`{"prompt":[1,2,3],"max_tokens":2}`,
	`{"prompt":"\u0000\ud800","stream":true}`,
	`{"messages":`, `null`, `[]`, `"x"`, "\xff", `{"messages":[{"role":"user","content":{"a":1}}]}`,
}

// checkResponse asserts the server answered a client error or success,
// never a server error, with a well-formed body.
func checkResponse(t *testing.T, rec *httptest.ResponseRecorder, body []byte) {
	t.Helper()
	if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
		t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
	}
	out := rec.Body.Bytes()
	if rec.Code == http.StatusTemporaryRedirect || rec.Code == http.StatusMovedPermanently {
		return // ServeMux sends unclean paths ("/v1/kb/a/../b") to their clean form
	}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		if !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
			t.Fatalf("stream for %q does not end with [DONE]: %s", body, out)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("status %d for %q: body is not JSON: %s", rec.Code, body, out)
	}
}

func FuzzChatRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	s := fuzzServer(f)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "http://127.0.0.1/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, body)
	})
}

func FuzzCompletionRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	s := fuzzServer(f)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "http://127.0.0.1/v1/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, body)
	})
}

func FuzzKBRequest(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":"../../etc"}`, `{"name":"名字.v1"}`, `{"name":""}`, `{"query":"x","top_k":1e9,"mode":"dense"}`} {
		f.Add("POST", "/v1/kb", []byte(s))
		f.Add("POST", "/v1/kb/a/query", []byte(s))
	}
	f.Add("GET", "/v1/kb/a%2f..%2f..%2fetc/documents", []byte(nil))
	f.Add("DELETE", "/v1/kb/a/documents/..%2f..", []byte(nil))
	f.Add("GET", "/v1/kb/a/chunks/-1-", []byte(nil))
	s := fuzzServer(f)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		switch method {
		case "GET", "POST", "DELETE":
		default:
			return
		}
		if !strings.HasPrefix(path, "/v1/kb") || strings.ContainsAny(path, " \t\r\n#?") || !utf8.ValidString(path) {
			return
		}
		req, err := http.NewRequest(method, "http://127.0.0.1"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, body)
	})
}

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"a.md", "../../x.md", `C:\a\b.txt`, "\x00", "", "..", "名字.md", "a\u202eb.md", strings.Repeat("é", 300) + ".md"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := sanitizeName(name)
		if got == "" || len(got) > 216 || !utf8.ValidString(got) || strings.ContainsAny(got, "/\\\x00") || got == "." || got == ".." {
			t.Fatalf("sanitizeName(%q) = %q", name, got)
		}
		if sanitizeName(got) != got {
			t.Fatalf("sanitizeName not idempotent on %q: %q → %q", name, got, sanitizeName(got))
		}
	})
}
