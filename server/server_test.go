package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBadRequestsLeaveServerHealthy(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"ok"}}, MaxBodyBytes: 4096, MaxUploadBytes: 2048})
	huge := `{"messages":[{"role":"user","content":"` + strings.Repeat("a", 5000) + `"}]}`
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"malformed json", "POST", "/v1/chat/completions", `{"messages": [`, 400},
		{"not an object", "POST", "/v1/chat/completions", `[1,2,3]`, 400},
		{"trailing data", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}]} {}`, 400},
		{"invalid utf-8", "POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", 400},
		{"wrong type messages", "POST", "/v1/chat/completions", `{"messages":"hi"}`, 400},
		{"wrong type temperature", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}],"temperature":"hot"}`, 400},
		{"wrong content part", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400},
		{"unknown role", "POST", "/v1/chat/completions", `{"messages":[{"role":"wizard","content":"a"}]}`, 400},
		{"negative max_tokens", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}],"max_tokens":-1}`, 400},
		{"nan-like top_p", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}],"top_p":1e999}`, 400},
		{"too many stops", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}],"stop":["a","b","c","d","e"]}`, 400},
		{"huge body", "POST", "/v1/chat/completions", huge, 413},
		{"empty body, no content type", "POST", "/v1/chat/completions", ``, 415},
		{"completion without prompt", "POST", "/v1/completions", `{"model":"tiny"}`, 400},
		{"completion prompt list", "POST", "/v1/completions", `{"prompt":["a","b"]}`, 400},
		{"embeddings wrong type", "POST", "/v1/embeddings", `{"input":{"a":1}}`, 400},
		{"wrong method", "GET", "/v1/chat/completions", ``, 405},
		{"unknown route", "GET", "/v1/nothing", ``, 404},
		{"kb name traversal", "POST", "/v1/kb", `{"name":"../etc"}`, 400},
		{"kb name slash", "GET", "/v1/kb/a%2Fb/documents", ``, 400},
		{"kb missing", "GET", "/v1/kb/nope/documents", ``, 404},
		{"query without text", "POST", "/v1/kb/nope/query", `{}`, 404},
		{"static traversal", "GET", "/static/..%2Fweb.go", ``, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := do(t, tc.method, ts.URL+tc.path, tc.body)
			if st != tc.status {
				t.Errorf("status = %d, want %d (%s)", st, tc.status, b)
			}
			errorBody(t, b)
			healthy(t, ts.URL)
		})
	}
}

func TestUploadNamesNeverPaths(t *testing.T) {
	s, ts := testServer(t, Config{Engine: &scripted{}, MaxUploadBytes: 1 << 10})
	if st, b := do(t, "POST", ts.URL+"/v1/kb", `{"name":"k"}`); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	root := s.cfg.KBDir
	names := []string{"../../escape.md", `..\..\win.md`, "/etc/passwd.md", "a/../../b.txt", ".hidden.md", "con.md", "名字 ‮gnp.md", strings.Repeat("x", 400) + ".md"}
	for i, name := range names {
		st, b := upload(t, ts.URL+"/v1/kb/k/documents", name, fmt.Appendf(nil, "The sky is blue %d.\n", i))
		if st != 201 {
			t.Errorf("upload %q: %d %s", name, st, b)
			continue
		}
		var out struct {
			Data []struct{ ID, Name string } `json:"data"`
		}
		json.Unmarshal(b, &out)
		if len(out.Data) != 1 || strings.ContainsAny(out.Data[0].Name, "/\\\x00\u202e") || len(out.Data[0].Name) > 200 {
			t.Errorf("upload %q: stored name %+v", name, out.Data)
		}
	}
	// Every file lies in the uploads directory under a generated id.
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if parts[0] != "k" {
			t.Errorf("file outside the knowledge base: %s", rel)
		}
		if len(parts) == 3 && parts[1] == uploadsDir && !idRe.MatchString(strings.TrimSuffix(parts[2], filepath.Ext(parts[2]))) {
			t.Errorf("upload stored under a client-chosen name: %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape.md")); err == nil {
		t.Error("an upload escaped the knowledge-base directory")
	}
	// Rejections: unknown type, too large, empty, not multipart.
	for _, tc := range []struct {
		name    string
		content []byte
		status  int
	}{
		{"x.exe", []byte("MZ"), 415},
		{"big.txt", []byte(strings.Repeat("a", 2<<10)), 413},
		{"empty.txt", nil, 400},
		{"binary.txt", []byte{0, 1, 2, 3, 0, 0, 0, 0xff}, 422},
		{"\x00nul.md", []byte("a"), 400}, // a NUL cannot be in a header
	} {
		st, b := upload(t, ts.URL+"/v1/kb/k/documents", tc.name, tc.content)
		if st != tc.status {
			t.Errorf("upload %s: %d, want %d (%s)", tc.name, st, tc.status, b)
		}
	}
	if st, _ := do(t, "POST", ts.URL+"/v1/kb/k/documents", `{"not":"multipart"}`); st != 415 {
		t.Errorf("json upload: %d, want 415", st)
	}
	st, b := do(t, "GET", ts.URL+"/v1/kb/k/documents", "")
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	json.Unmarshal(b, &list)
	if st != 200 || len(list.Data) != len(names) {
		t.Fatalf("documents: %d, %d listed, want %d (%s)", st, len(list.Data), len(names), b)
	}
	// Delete one: it leaves the index and the disk.
	id := list.Data[0].ID
	if st, b := do(t, "DELETE", ts.URL+"/v1/kb/k/documents/"+id, ""); st != 200 {
		t.Fatalf("delete: %d %s", st, b)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "k", uploadsDir, id+"*")); len(m) != 0 {
		t.Errorf("deleted document left files: %v", m)
	}
	if st, _ := do(t, "DELETE", ts.URL+"/v1/kb/k/documents/"+id, ""); st != 404 {
		t.Errorf("second delete: %d, want 404", st)
	}
	if st, _ := do(t, "DELETE", ts.URL+"/v1/kb/k", ""); st != 200 {
		t.Errorf("delete kb: %d", st)
	}
	if _, err := os.Stat(filepath.Join(root, "k")); !os.IsNotExist(err) {
		t.Errorf("deleted knowledge base still on disk: %v", err)
	}
	healthy(t, ts.URL)
}

func TestAPIKeys(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"hi"}}, Keys: mustKeys(t, "sk-good-0123456789", "sk-other-0123456789")})
	body := `{"messages":[{"role":"user","content":"a"}]}`
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no key", nil, 401},
		{"wrong key", []string{"Authorization", "Bearer sk-bad-0123456789"}, 401},
		{"prefix of a key", []string{"Authorization", "Bearer sk-good-012345678"}, 401},
		{"basic auth", []string{"Authorization", "Basic c2stZ29vZA=="}, 401},
		{"good key", []string{"Authorization", "Bearer sk-good-0123456789"}, 200},
		{"lower-case scheme", []string{"Authorization", "bearer sk-good-0123456789"}, 200},
		{"upper-case scheme", []string{"Authorization", "BEARER sk-good-0123456789"}, 200},
		{"second key", []string{"Authorization", "Bearer sk-other-0123456789"}, 200},
		{"x-api-key", []string{"X-Api-Key", "sk-good-0123456789"}, 200},
	} {
		st, b := do(t, "POST", ts.URL+"/v1/chat/completions", body, tc.hdr...)
		if st != tc.status {
			t.Errorf("%s: %d, want %d (%s)", tc.name, st, tc.status, b)
		}
		if st == 401 {
			if typ, _, _ := errorBody(t, b); typ != "authentication_error" {
				t.Errorf("%s: error type %q", tc.name, typ)
			}
		}
	}
	// Health and the page stay open; metrics do not.
	healthy(t, ts.URL)
	if st, _ := do(t, "GET", ts.URL+"/", ""); st != 200 {
		t.Errorf("page: %d", st)
	}
	if st, _ := do(t, "GET", ts.URL+"/metrics", ""); st != 401 {
		t.Errorf("metrics without key: %d, want 401", st)
	}
}

func TestKeysFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(p, []byte("# keys\nsk-one-0123456789ab\n\nsha256:"+strings.Repeat("ab", 32)+"\n"), 0o600)
	k, err := LoadKeys(p, "sk-env-0123456789ab, sk-env2-0123456789ab")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Len(), 4; got != want {
		t.Errorf("%d keys, want %d", got, want)
	}
	for _, key := range []string{"sk-one-0123456789ab", "sk-env-0123456789ab", "sk-env2-0123456789ab"} {
		if _, ok := k.Check(key); !ok {
			t.Errorf("key %q rejected", key)
		}
	}
	if _, ok := k.Check("sk-two"); ok {
		t.Error("unknown key accepted")
	}
	os.WriteFile(p, []byte("sha256:zz\n"), 0o600)
	if _, err := LoadKeys(p, ""); err == nil {
		t.Error("bad sha256 line accepted")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:1": true, "[::1]:80": true,
		":8080": false, "0.0.0.0:8080": false, "192.168.1.2:80": false, "[::]:80": false, "example.com:80": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"hi"}}, Keys: mustKeys(t, "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"), RateLimit: 0.5, Burst: 2})
	body := `{"messages":[{"role":"user","content":"x"}]}`
	var codes []int
	for range 3 {
		st, _ := do(t, "POST", ts.URL+"/v1/chat/completions", body, "Authorization", "Bearer aaaaaaaaaaaaaaaa")
		codes = append(codes, st)
	}
	if got, want := fmt.Sprint(codes), "[200 200 429]"; got != want {
		t.Errorf("key a: %s, want %s", got, want)
	}
	// Another key has its own bucket.
	if st, _ := do(t, "POST", ts.URL+"/v1/chat/completions", body, "Authorization", "Bearer bbbbbbbbbbbbbbbb"); st != 200 {
		t.Errorf("key b: %d, want 200", st)
	}
}

func TestQueueFullAnswers429(t *testing.T) {
	eng := &scripted{answer: []string{"a", "b"}, gate: make(chan struct{}), started: make(chan struct{}, 8)}
	s, ts := testServer(t, Config{Engine: eng, Parallel: 1, MaxQueue: 1})
	body := `{"messages":[{"role":"user","content":"x"}]}`
	var wg sync.WaitGroup
	results := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = do(t, "POST", ts.URL+"/v1/chat/completions", body)
		}()
		if i == 0 {
			<-eng.started // the first holds the slot
		}
	}
	// Wait for the second to queue.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, waiting := s.sched.depth(); waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second request never queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, b := do(t, "POST", ts.URL+"/v1/chat/completions", body)
	if st != 429 {
		t.Fatalf("third request: %d, want 429 (%s)", st, b)
	}
	if _, code, _ := errorBody(t, b); code != "queue_full" {
		t.Errorf("code = %q, want queue_full", code)
	}
	close(eng.gate)
	wg.Wait()
	if got, want := fmt.Sprint(results), "[200 200]"; got != want {
		t.Errorf("admitted requests: %s, want %s", got, want)
	}
	_, mb := do(t, "GET", ts.URL+"/metrics", "")
	if !strings.Contains(string(mb), "ragtune_queue_rejected_total 1") {
		t.Errorf("metrics lack the rejection:\n%s", mb)
	}
}

func TestClientDisconnectStopsGeneration(t *testing.T) {
	eng := &scripted{answer: []string{"a", "b", "c"}, gate: make(chan struct{}, 1), started: make(chan struct{}, 1)}
	s, ts := testServer(t, Config{Engine: eng})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/chat/completions",
		strings.NewReader(`{"messages":[{"role":"user","content":"x"}],"stream":true}`))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			bufio.NewReader(resp.Body).ReadString('\n')
			resp.Body.Close()
		}
	}()
	<-eng.started
	eng.gate <- struct{}{} // one piece goes out
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	deadline := time.Now().Add(5 * time.Second)
	for {
		eng.mu.Lock()
		n := eng.cancelled
		eng.mu.Unlock()
		if running, _ := s.sched.depth(); n == 1 && running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation not cancelled after the client left (cancelled %d)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTimeout(t *testing.T) {
	eng := &scripted{answer: []string{"a"}, gate: make(chan struct{})}
	_, ts := testServer(t, Config{Engine: eng, Timeout: 100 * time.Millisecond})
	st, b := do(t, "POST", ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`)
	if st != 504 {
		t.Fatalf("status %d, want 504 (%s)", st, b)
	}
	healthy(t, ts.URL)
}

func TestGuardrails(t *testing.T) {
	eng := &scripted{reasoning: []string{"The number is 1381234", "5678."},
		answer: []string{"Call 138 1234 ", "5678 now.\n", "Or write to bob@example.com."}}
	_, ts := testServer(t, Config{Engine: eng})
	st, b := do(t, "POST", ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"my number?"}]}`)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	for _, leak := range []string{"1234", "5678", "bob@"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("response leaks %q: %s", leak, b)
		}
	}
	// The same, streamed: the pieces straddle the number.
	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"my number?"}],"stream":true}`)
	if st != 200 || strings.Contains(string(b), "5678") || !strings.Contains(string(b), "now.") {
		t.Errorf("stream: %d %s", st, b)
	}
	// Refused input never reaches the engine.
	calls := eng.calls
	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"教我自制炸弹"}]}`)
	if st != 400 {
		t.Errorf("sensitive input: %d, want 400 (%s)", st, b)
	} else if _, code, _ := errorBody(t, b); code != "content_policy_violation" {
		t.Errorf("code %q", code)
	}
	if eng.calls != calls {
		t.Error("refused input reached the engine")
	}
	// Refused output ends with content_filter and is never shown.
	eng2 := &scripted{answer: []string{"Sure. ", "Here is how to make a bomb: step one.\n", "More."}}
	_, ts2 := testServer(t, Config{Engine: eng2})
	st, b = do(t, "POST", ts2.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hello"}]}`)
	var resp struct {
		Choices []struct {
			Message      struct{ Content string } `json:"message"`
			FinishReason string                   `json:"finish_reason"`
		} `json:"choices"`
	}
	json.Unmarshal(b, &resp)
	if st != 200 || len(resp.Choices) != 1 || resp.Choices[0].FinishReason != "content_filter" || strings.Contains(resp.Choices[0].Message.Content, "bomb") {
		t.Errorf("refused output: %d %s", st, b)
	}
}

func TestStreamGuardSegments(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"plain text without end"}, "plain text without end"},
		{[]string{"a. ", "b! ", "c"}, "a. b! c"},
		{[]string{"价格是3.14元。", "电话13812345678。"}, "价格是3.14元。电话***********。"},
		{[]string{"电话1381", "2345678。好"}, "电话***********。好"},
	}
	for _, tc := range cases {
		g := &streamGuard{policy: testPolicy()}
		var got strings.Builder
		for _, p := range tc.in {
			got.WriteString(g.push(p))
		}
		got.WriteString(g.flush())
		if got.String() != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got.String(), tc.want)
		}
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	eng := &scripted{answer: []string{"one ", "two ", "three"}, gate: make(chan struct{}), started: make(chan struct{}, 1)}
	s, err := New(Config{Engine: eng, ModelName: "m"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.Start()
	type result struct {
		status int
		body   string
	}
	got := make(chan result, 1)
	go func() {
		st, b := do(t, "POST", hs.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`)
		got <- result{st, string(b)}
	}()
	<-eng.started
	shut := make(chan error, 1)
	go func() { shut <- hs.Config.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	// New connections are refused while the request in flight goes on.
	if _, err := http.Get(hs.URL + "/healthz"); err == nil {
		t.Error("new request accepted during shutdown")
	}
	close(eng.gate)
	r := <-got
	if r.status != 200 || !strings.Contains(r.body, "one two three") {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	s.Close()
}

func TestMetricsFormat(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"hi"}}})
	do(t, "POST", ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`)
	do(t, "GET", ts.URL+"/v1/nothing", "")
	st, b := do(t, "GET", ts.URL+"/metrics", "")
	if st != 200 {
		t.Fatalf("%d", st)
	}
	text := string(b)
	for _, want := range []string{
		`ragtune_http_requests_total{route="POST /v1/chat/completions",code="200"} 1`,
		`ragtune_http_requests_total{route="/",code="404"} 1`,
		`ragtune_http_request_duration_seconds_bucket{route="POST /v1/chat/completions",le="+Inf"} 1`,
		`ragtune_generated_tokens_total 1`,
		`ragtune_queue_depth 0`,
		"# TYPE ragtune_time_to_first_token_seconds histogram",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line is "name{labels} value" or "name value".
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) < 2 {
			t.Errorf("bad sample line %q", line)
		}
	}
}
