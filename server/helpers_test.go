package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ragtune/guard"
	"ragtune/llm"
	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

var (
	tinyOnce sync.Once
	tinyDir  string
	tinyErr  error
)

// tinyModel writes the tiny preset with R1's byte-level vocabulary and
// chat template once per test binary.
func tinyModel(t testing.TB) string {
	t.Helper()
	tinyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ragtune-server-tiny-")
		if err != nil {
			tinyErr = err
			return
		}
		cfg, err := qwen2.Preset("tiny")
		if err != nil {
			tinyErr = err
			return
		}
		if tinyErr = qwen2.Init(dir, cfg, 7, tokenizer.ByteLevelR1()); tinyErr != nil {
			return
		}
		path := filepath.Join(dir, "tokenizer_config.json")
		b, err := os.ReadFile(path)
		if err != nil {
			tinyErr = err
			return
		}
		var tc map[string]any
		if tinyErr = json.Unmarshal(b, &tc); tinyErr != nil {
			return
		}
		if s, _ := tc["chat_template"].(string); s == "" {
			tc["chat_template"] = chat.R1Template
			tinyErr = model.WriteJSON(path, tc)
		}
		tinyDir = dir
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tinyDir != "" {
		os.RemoveAll(tinyDir)
	}
	os.Exit(code)
}

// loadTiny loads the tiny model with parallel slots.
func loadTiny(t testing.TB, parallel int) *llm.Local {
	t.Helper()
	l, err := llm.LoadLocal(tinyModel(t), llm.LoadOptions{LocalOptions: llm.LocalOptions{Parallel: parallel, ContextSize: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// testServer starts a server over cfg (the tiny model when cfg.Engine is
// nil) with a fresh knowledge-base directory.
func testServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Engine == nil {
		l := loadTiny(t, max(cfg.Parallel, 1))
		cfg.Engine, cfg.DefaultSampling = l, llm.Sampling{Seed: 1}
	}
	if cfg.ModelName == "" {
		cfg.ModelName = "tiny"
	}
	if cfg.KBDir == "" {
		cfg.KBDir = t.TempDir()
	}
	if cfg.DefaultMaxTokens == 0 {
		cfg.DefaultMaxTokens = 16
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Every response of every test is scanned for the data directory: no
	// body may carry a server path. The check runs last, once the server
	// has finished every request.
	var mu sync.Mutex
	var leaks []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range leaks {
			t.Errorf("a response carries the server path %s: %.300s", cfg.KBDir, l)
		}
	})
	h := s.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if bytes.Contains(tw.buf.Bytes(), []byte(cfg.KBDir)) {
			mu.Lock()
			leaks = append(leaks, r.Method+" "+r.URL.Path+": "+tw.buf.String())
			mu.Unlock()
		}
	}))
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// teeWriter keeps the first MiB of a response for inspection.
type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.buf.Len() < 1<<20 {
		w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// scripted is an engine that writes fixed reasoning and answer pieces,
// optionally waiting on gate between pieces, so tests control the output
// and the timing.
type scripted struct {
	reasoning []string
	answer    []string
	gate      chan struct{} // nil: no waiting
	started   chan struct{} // receives once per generation, if not nil
	mu        sync.Mutex
	calls     int
	lastReq   llm.Request
	cancelled int
}

func (e *scripted) Generate(ctx context.Context, req llm.Request, onToken func(llm.Token) error) (*llm.Result, error) {
	e.mu.Lock()
	e.calls++
	e.lastReq = req
	e.mu.Unlock()
	if e.started != nil {
		e.started <- struct{}{}
	}
	res := &llm.Result{PromptTokens: 3}
	step := func(text string, reasoning bool) error {
		if e.gate != nil {
			select {
			case <-e.gate:
			case <-ctx.Done():
				e.mu.Lock()
				e.cancelled++
				e.mu.Unlock()
				res.FinishReason = llm.FinishCancelled
				return ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res.CompletionTokens++
		if reasoning {
			res.Reasoning += text
		} else {
			res.Text += text
		}
		if onToken != nil {
			return onToken(llm.Token{ID: res.CompletionTokens, Text: text, Reasoning: reasoning})
		}
		return nil
	}
	for _, p := range e.reasoning {
		if err := step(p, true); err != nil {
			if res.FinishReason == "" {
				res.FinishReason = llm.FinishError
			}
			return res, err
		}
	}
	for _, p := range e.answer {
		if err := step(p, false); err != nil {
			if res.FinishReason == "" {
				res.FinishReason = llm.FinishError
			}
			return res, err
		}
	}
	res.FinishReason = llm.FinishEOS
	return res, nil
}

// do sends a request and returns status and body.
func do(t testing.TB, method, url, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// upload posts one file as multipart/form-data under the given name.
func upload(t testing.TB, url, name string, content []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	// CreateFormFile escapes quotes; write the header by hand so names
	// with path tricks arrive as the client sent them.
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename="%s"`, name)}
	h["Content-Type"] = []string{"application/octet-stream"}
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(content)
	mw.Close()
	req, err := http.NewRequest("POST", url, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	// As the server's own page sends it: a same-origin upload.
	req.Header.Set("Origin", "http://"+req.URL.Host)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// errorBody parses an OpenAI error object, failing the test if the body
// is not one.
func errorBody(t testing.TB, b []byte) (typ, code, msg string) {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error object: %s", b)
	}
	if e.Error.Code != nil {
		code = *e.Error.Code
	}
	return e.Error.Type, code, e.Error.Message
}

func healthy(t testing.TB, base string) {
	t.Helper()
	if st, b := do(t, "GET", base+"/healthz", ""); st != 200 || !bytes.Contains(b, []byte(`"ok"`)) {
		t.Fatalf("server unhealthy: %d %s", st, b)
	}
}

func testPolicy() *guard.Policy { return guard.DefaultPolicy() }

// mustKeys holds plain (admin) keys.
func mustKeys(t testing.TB, keys ...string) *Keys {
	t.Helper()
	k, err := NewKeys(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
