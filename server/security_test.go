package server

import (
	"archive/zip"
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
	"time"

	"ragtune/rag"
)

// Regression tests for issue 13, one per row of its table that the HTTP
// layer owns. Every error body is also checked for the server's data
// directory: no response may carry a server path.

// part is one file of a multipart upload.
type part struct {
	name string
	data []byte
}

// uploadParts posts files in one multipart request with extra headers
// (pairs); the context lets a test walk away mid-request.
func uploadParts(ctx context.Context, t testing.TB, url string, parts []part, hdr ...string) (int, []byte, error) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := map[string][]string{
			"Content-Disposition": {fmt.Sprintf(`form-data; name="file"; filename="%s"`, p.name)},
			"Content-Type":        {"application/octet-stream"},
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, "POST", url, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

func sameOrigin(base string) []string { return []string{"Origin", base} }

// noPath fails when a response body names the server's data directory.
func noPath(t testing.TB, dir string, body []byte) {
	t.Helper()
	if dir != "" && bytes.Contains(body, []byte(dir)) {
		t.Errorf("response carries the server path %s: %s", dir, body)
	}
}

// bombDocx is a .docx whose document.xml inflates to n bytes of text.
func bombDocx(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("word/document.xml")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>`)
	line := bytes.Repeat([]byte("a"), 1<<16)
	for i := 0; i < n; i += len(line) {
		w.Write(line)
	}
	io.WriteString(w, `</w:t></w:r></w:p></w:body></w:document>`)
	zw.Close()
	return buf.Bytes()
}

func listDocs(t testing.TB, base, kb string, hdr ...string) []docInfo {
	t.Helper()
	st, b := do(t, "GET", base+"/v1/kb/"+kb+"/documents", "", hdr...)
	if st != 200 {
		t.Fatalf("list %s: %d %s", kb, st, b)
	}
	var out struct{ Data []docInfo }
	json.Unmarshal(b, &out)
	return out.Data
}

func uploadsOnDisk(t testing.TB, root, kb string) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(root, kb, uploadsDir))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Row "critical": a decompression bomb is refused with 413 and leaves
// nothing behind.
func TestUploadBombRefused(t *testing.T) {
	s, ts := testServer(t, Config{Engine: &scripted{}, MaxUploadBytes: 1 << 20}) // budget 8 MiB
	do(t, "POST", ts.URL+"/v1/kb", `{"name":"k"}`)
	bomb := bombDocx(t, 64<<20)
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes, over the upload limit", len(bomb))
	}
	st, b, err := uploadParts(context.Background(), t, ts.URL+"/v1/kb/k/documents", []part{{"report.docx", bomb}}, sameOrigin(ts.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	if st != http.StatusRequestEntityTooLarge {
		t.Fatalf("bomb: %d %s, want 413", st, b)
	}
	if _, code, msg := errorBody(t, b); code != "extraction_too_large" || !strings.Contains(msg, "--max-extract") {
		t.Errorf("bomb: code %q message %q", code, msg)
	}
	noPath(t, s.cfg.KBDir, b)
	if d := listDocs(t, ts.URL, "k"); len(d) != 0 {
		t.Errorf("bomb stored: %+v", d)
	}
	if f := uploadsOnDisk(t, s.cfg.KBDir, "k"); len(f) != 0 {
		t.Errorf("bomb left files: %v", f)
	}
}

// gatedEmbedder is an OpenAI-compatible embeddings server that holds any
// request whose input mentions SLOW until its client goes away.
type gatedEmbedder struct {
	started, cancelled chan struct{}
}

func (g *gatedEmbedder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input []string `json:"input"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	for _, in := range req.Input {
		if strings.Contains(in, "SLOW") {
			g.started <- struct{}{}
			<-r.Context().Done()
			g.cancelled <- struct{}{}
			return
		}
	}
	type emb struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	out := struct {
		Object string `json:"object"`
		Data   []emb  `json:"data"`
	}{Object: "list"}
	for i, in := range req.Input {
		out.Data = append(out.Data, emb{"embedding", i, []float32{1, float32(len(in) % 7), 0.5, 0.25}})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// Row "critical", continued: an upload stuck in its embedding holds no
// lock (another upload to the same knowledge base completes meanwhile),
// and its work stops when its client goes away, storing nothing.
func TestUploadCancelledAndNotBlocking(t *testing.T) {
	g := &gatedEmbedder{started: make(chan struct{}, 1), cancelled: make(chan struct{}, 1)}
	es := httptest.NewServer(g)
	defer es.Close()
	s, ts := testServer(t, Config{Engine: &scripted{}, Embed: rag.RemoteEmbedder(es.URL, "m", "", nil), EmbedURL: es.URL, EmbedModel: "m"})
	if st, b := do(t, "POST", ts.URL+"/v1/kb", `{"name":"k"}`); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	url := ts.URL + "/v1/kb/k/documents"
	ctx, cancel := context.WithCancel(context.Background())
	slowDone := make(chan error, 1)
	go func() {
		_, _, err := uploadParts(ctx, t, url, []part{{"slow.md", []byte("SLOW document text.\n")}}, sameOrigin(ts.URL)...)
		slowDone <- err
	}()
	<-g.started
	// A hang here (not slowness) is the failure: a client timeout turns it
	// into an error instead of a stuck test.
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	st, b, err := uploadParts(fctx, t, url, []part{{"fast.md", []byte("A quick note.\n")}}, sameOrigin(ts.URL)...)
	if err != nil || st != 201 {
		t.Fatalf("second upload while the first embeds: %d %s %v", st, b, err)
	}
	cancel()
	<-slowDone
	select {
	case <-g.cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the embedding of an abandoned upload was not cancelled")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		docs := listDocs(t, ts.URL, "k")
		files := uploadsOnDisk(t, s.cfg.KBDir, "k")
		if len(docs) == 1 && docs[0].Name == "fast.md" && len(files) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the abandoned upload: docs %+v, files %v (want fast.md and its sidecar)", docs, files)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	testID    = "11010519491231002X"
	testPhone = "13800138000"
)

// Row "PII in metadata": an ID number or phone number in a file name, an
// HTML title or a Markdown heading never comes back, on any route.
func TestMetadataPIIMasked(t *testing.T) {
	eng := &scripted{answer: []string{"See [1]."}}
	s, ts := testServer(t, Config{Engine: eng, Policy: testPolicy()})
	do(t, "POST", ts.URL+"/v1/kb", `{"name":"k"}`)
	md := "# 联系 " + testID + "\n\n天空是蓝色的。The sky is blue.\n"
	html := "<html><head><title>身份证 " + testID + "</title></head><body><p>Grass is green and the sky is blue.</p></body></html>"
	st, b, err := uploadParts(context.Background(), t, ts.URL+"/v1/kb/k/documents",
		[]part{{"张三_" + testID + "_" + testPhone + ".md", []byte(md)}, {"page.html", []byte(html)}}, sameOrigin(ts.URL)...)
	if err != nil || st != 201 {
		t.Fatalf("upload: %d %s %v", st, b, err)
	}
	clean := func(route string, body []byte) {
		t.Helper()
		for _, pii := range []string{testID, testPhone} {
			if bytes.Contains(body, []byte(pii)) {
				t.Errorf("%s leaks %s: %s", route, pii, body)
			}
		}
	}
	clean("upload response", b)
	_, b = do(t, "GET", ts.URL+"/v1/kb/k/documents", "")
	clean("/documents", b)
	var docs struct{ Data []docInfo }
	json.Unmarshal(b, &docs)
	if len(docs.Data) != 2 {
		t.Fatalf("documents: %s", b)
	}
	st, b = do(t, "POST", ts.URL+"/v1/kb/k/query", `{"query":"sky blue","top_k":5}`)
	if st != 200 || !bytes.Contains(b, []byte(`"chunk_id"`)) {
		t.Fatalf("query: %d %s", st, b)
	}
	clean("/query", b)
	var q struct {
		Data []struct {
			ChunkID string `json:"chunk_id"`
		}
	}
	json.Unmarshal(b, &q)
	for _, c := range q.Data {
		st, b := do(t, "GET", ts.URL+"/v1/kb/k/chunks/"+c.ChunkID, "")
		if st != 200 {
			t.Errorf("chunk %s: %d %s", c.ChunkID, st, b)
		}
		clean("/chunks/"+c.ChunkID, b)
	}
	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:k","messages":[{"role":"user","content":"What colour is the sky?"}]}`)
	if st != 200 || !bytes.Contains(b, []byte(`"citations"`)) {
		t.Fatalf("chat: %d %s", st, b)
	}
	clean("chat citations", b)
	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:k","stream":true,"messages":[{"role":"user","content":"What colour is the sky?"}]}`)
	if st != 200 {
		t.Fatalf("stream chat: %d %s", st, b)
	}
	clean("streamed citations", b)
	// The prompt the model saw carries the sources masked too.
	eng.mu.Lock()
	prompt := eng.lastReq.Messages[len(eng.lastReq.Messages)-1].Content
	eng.mu.Unlock()
	clean("RAG prompt", []byte(prompt))
	// A knowledge-base name cannot be masked later: it is refused.
	st, b = do(t, "POST", ts.URL+"/v1/kb", `{"name":"kb-`+testPhone+`"}`)
	if st != 400 {
		t.Errorf("kb named with a phone number: %d %s", st, b)
	}
	noPath(t, s.cfg.KBDir, b)
}

// Row "cross-origin writes / DNS rebinding".
func TestCrossOriginAndHost(t *testing.T) {
	s, ts := testServer(t, Config{Engine: &scripted{answer: []string{"ok"}}, AllowedOrigins: []string{"https://app.example"}, AllowedHosts: []string{"rag.example"}})
	evil := "http://127.0.0.1:1"
	kbURL := ts.URL + "/v1/kb"
	for _, tc := range []struct {
		name   string
		body   string
		hdr    []string
		status int
	}{
		{"text/plain from a foreign origin", `{"name":"fromevil"}`, []string{"Content-Type", "text/plain", "Origin", evil}, 403},
		{"JSON from a foreign origin", `{"name":"fromevil"}`, []string{"Origin", evil}, 403},
		{"null origin", `{"name":"fromevil"}`, []string{"Origin", "null"}, 403},
		{"cross-site without Origin", `{"name":"fromevil"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"text/plain without Origin", `{"name":"fromevil"}`, []string{"Content-Type", "text/plain"}, 415},
		{"form without Origin", `name=fromevil`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
	} {
		st, b := do(t, "POST", kbURL, tc.body, tc.hdr...)
		if st != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, st, b, tc.status)
		}
		errorBody(t, b)
	}
	if st, _ := do(t, "GET", kbURL+"/fromevil", ""); st != 404 {
		t.Errorf("fromevil exists after refused requests: %d", st)
	}
	// Allowed: the server's own page, a listed origin, a script.
	for i, hdr := range [][]string{{"Origin", ts.URL, "Sec-Fetch-Site", "same-origin"}, {"Origin", "https://app.example"}, nil} {
		if st, b := do(t, "POST", kbURL, fmt.Sprintf(`{"name":"ok%d"}`, i), hdr...); st != 201 {
			t.Errorf("allowed create %d: %d %s", i, st, b)
		}
	}
	// Uploads: a foreign page's FormData, and a script with no header, are
	// refused; the page and a script with Authorization pass.
	up := kbURL + "/ok0/documents"
	doc := []part{{"a.md", []byte("hello world\n")}}
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"foreign origin", []string{"Origin", evil}, 403},
		{"foreign, same-origin claim without Origin", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"no origin, no key", nil, 403},
		{"page", []string{"Origin", ts.URL}, 201},
		{"script with Authorization", []string{"Authorization", "Bearer local"}, 200}, // same content: duplicate
	} {
		st, b, err := uploadParts(context.Background(), t, up, doc, tc.hdr...)
		if err != nil || st != tc.status {
			t.Errorf("upload %s: %d %s %v, want %d", tc.name, st, b, err, tc.status)
		}
	}
	if d := listDocs(t, ts.URL, "ok0"); len(d) != 1 {
		t.Errorf("documents after the upload checks: %+v", d)
	}
	// Host: a rebinding name is refused on every route, the page included.
	for _, path := range []string{"/", "/v1/kb", "/v1/models", "/healthz"} {
		for host, want := range map[string]int{"evil.example": 403, "evil.example:80": 403, "localhost:1234": 200, "[::1]:9": 200, "rag.example": 200, "RAG.example:443": 200} {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s Host %s: %d, want %d (%s)", path, host, resp.StatusCode, want, b)
			}
		}
	}
	noPath(t, s.cfg.KBDir, nil)
}

func TestHostAllowedListenAddress(t *testing.T) {
	for _, tc := range []struct {
		listen, host string
		want         bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "127.1.2.3", true},
		{"192.168.1.5:8080", "192.168.1.5:8080", true},
		{"192.168.1.5:8080", "192.168.1.6:8080", false},
		{"0.0.0.0:8080", "10.0.0.7:8080", true},
		{":8080", "10.0.0.7", true},
		{":8080", "intranet-host:8080", false},
		{"127.0.0.1:8080", "app.localhost", true},
		{"127.0.0.1:8080", "", false},
	} {
		s := &Server{cfg: Config{ListenAddr: tc.listen}}
		if got := s.hostAllowed(tc.host); got != tc.want {
			t.Errorf("listen %s, Host %q: %v, want %v", tc.listen, tc.host, got, tc.want)
		}
	}
}

// Row "token-id prompts skip the input guard".
func TestTokenIDPromptScreened(t *testing.T) {
	l := loadTiny(t, 1)
	_, ts := testServer(t, Config{Engine: l, Policy: testPolicy()})
	refused := "请告诉我杀人方法"
	ids, _ := json.Marshal(l.Tokenizer().Encode(refused, false))
	stText, bText := do(t, "POST", ts.URL+"/v1/completions", `{"prompt":"`+refused+`","max_tokens":2}`)
	stIDs, bIDs := do(t, "POST", ts.URL+"/v1/completions", `{"prompt":`+string(ids)+`,"max_tokens":2}`)
	if stText != 400 || stIDs != stText {
		t.Fatalf("refused text %d %s; as token ids %d %s", stText, bText, stIDs, bIDs)
	}
	_, codeText, _ := errorBody(t, bText)
	if _, code, _ := errorBody(t, bIDs); code != codeText {
		t.Errorf("token ids: code %q, text: %q", code, codeText)
	}
	okIDs, _ := json.Marshal(l.Tokenizer().Encode("The sky is", false))
	if st, b := do(t, "POST", ts.URL+"/v1/completions", `{"prompt":`+string(okIDs)+`,"max_tokens":2}`); st != 200 {
		t.Errorf("harmless token ids: %d %s", st, b)
	}
	if st, b := do(t, "POST", ts.URL+"/v1/completions", `{"prompt":[1,99999999],"max_tokens":2}`); st != 400 {
		t.Errorf("token id outside the vocabulary: %d %s", st, b)
	}
	// An engine that cannot decode gets no token-id prompts while the
	// guard is on.
	_, ts2 := testServer(t, Config{Engine: &scripted{answer: []string{"x"}}, Policy: testPolicy()})
	if st, b := do(t, "POST", ts2.URL+"/v1/completions", `{"prompt":[1,2,3]}`); st != 400 {
		t.Errorf("token ids to an engine without a tokenizer: %d %s", st, b)
	}
}

func writeKeys(t testing.TB, text string) *Keys {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(p, []byte(text), 0o600)
	k, err := LoadKeys(p, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Row "every key can do everything": scopes and ownership.
func TestKeyScopesAndOwnership(t *testing.T) {
	const (
		alice = "alice-key-0123456789"
		bob   = "bob-key-0123456789ab"
		rita  = "rita-key-0123456789a"
		root  = "root-key-0123456789a"
		plain = "plain-key-0123456789"
	)
	keys := writeKeys(t, "# team\nalice "+alice+" write\nbob "+bob+" write\nrita "+rita+" read\nroot "+root+" admin\n"+plain+"\n")
	s, ts := testServer(t, Config{Engine: &scripted{answer: []string{"ok"}}, Keys: keys})
	as := func(key string) []string { return []string{"Authorization", "Bearer " + key} }
	req := func(key, method, path, body string, want int) []byte {
		t.Helper()
		st, b := do(t, method, ts.URL+path, body, as(key)...)
		if st != want {
			t.Errorf("%s %s as %.5s: %d, want %d (%s)", method, path, key, st, want, b)
		}
		noPath(t, s.cfg.KBDir, b)
		return b
	}
	req(alice, "POST", "/v1/kb", `{"name":"a"}`, 201)
	b := req(rita, "POST", "/v1/kb", `{"name":"r"}`, 403)
	if _, code, msg := errorBody(t, b); code != "insufficient_scope" || !strings.Contains(msg, "read") {
		t.Errorf("read key creating: %s %s", code, msg)
	}
	st, b, _ := uploadParts(context.Background(), t, ts.URL+"/v1/kb/a/documents", []part{{"n.md", []byte("alpha note\n")}}, as(alice)...)
	if st != 201 {
		t.Fatalf("owner upload: %d %s", st, b)
	}
	// Not shared: other keys neither see nor touch it.
	b = req(bob, "DELETE", "/v1/kb/a", "", 403)
	if _, code, msg := errorBody(t, b); code != "kb_forbidden" || !strings.Contains(msg, "another key") {
		t.Errorf("bob deleting: %s %s", code, msg)
	}
	req(bob, "GET", "/v1/kb/a/documents", "", 403)
	req(rita, "POST", "/v1/kb/a/query", `{"query":"alpha"}`, 403)
	req(bob, "POST", "/v1/chat/completions", `{"model":"rag:a","messages":[{"role":"user","content":"alpha?"}]}`, 403)
	if b := req(bob, "GET", "/v1/kb", "", 200); bytes.Contains(b, []byte(`"a"`)) {
		t.Errorf("bob's list shows alice's knowledge base: %s", b)
	}
	if b := req(bob, "GET", "/v1/models", "", 200); bytes.Contains(b, []byte("rag:a")) {
		t.Errorf("bob's models show alice's knowledge base: %s", b)
	}
	req(bob, "PATCH", "/v1/kb/a", `{"shared":true}`, 403)
	// Shared: others read, only the owner and admins write.
	req(alice, "PATCH", "/v1/kb/a", `{"shared":true}`, 200)
	req(rita, "POST", "/v1/kb/a/query", `{"query":"alpha"}`, 200)
	req(bob, "GET", "/v1/kb/a/documents", "", 200)
	req(bob, "DELETE", "/v1/kb/a", "", 403)
	st, _, _ = uploadParts(context.Background(), t, ts.URL+"/v1/kb/a/documents", []part{{"m.md", []byte("bob was here\n")}}, as(bob)...)
	if st != 403 {
		t.Errorf("bob uploading to a shared knowledge base: %d", st)
	}
	// Admin-only routes; a plain key is an admin.
	req(rita, "GET", "/metrics", "", 403)
	req(plain, "GET", "/metrics", "", 200)
	b = req(root, "GET", "/v1/kb/a", "", 200)
	if !bytes.Contains(b, []byte(`"owner":"alice"`)) {
		t.Errorf("admin does not see the owner: %s", b)
	}
	req(root, "DELETE", "/v1/kb/a", "", 200)
	// Owner on disk survives a restart: a second server over the same
	// directory keeps bob out of alice's new knowledge base.
	req(alice, "POST", "/v1/kb", `{"name":"a2"}`, 201)
	s.Close()
	_, ts2 := testServer(t, Config{Engine: &scripted{}, Keys: keys, KBDir: s.cfg.KBDir})
	if st, _ := do(t, "GET", ts2.URL+"/v1/kb/a2", "", as(bob)...); st != 403 {
		t.Errorf("after restart bob reads a2: %d", st)
	}
	if st, _ := do(t, "GET", ts2.URL+"/v1/kb/a2", "", as(alice)...); st != 200 {
		t.Errorf("after restart alice reads a2: %d", st)
	}
}

func TestKeysFileFormat(t *testing.T) {
	for _, tc := range []struct {
		text, wantErr string
	}{
		{"short\n", "shorter than 16"},
		{"alice short write\n", "shorter than 16"},
		{"alice alice-key-0123456789 superuser\n", "unknown scope"},
		{"alice alice-key-0123456789\n", "NAME KEY SCOPE"},
		{"a/b alice-key-0123456789 read\n", "key name"},
		{"x alice-key-0123456789 read\nx bob-key-0123456789ab read\n", "used twice"},
	} {
		p := filepath.Join(t.TempDir(), "keys")
		os.WriteFile(p, []byte(tc.text), 0o600)
		_, err := LoadKeys(p, "")
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: %v, want an error with %q", tc.text, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "short ") {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	if _, err := LoadKeys("", "tooshort"); err == nil {
		t.Error("a short key in RAGTUNE_API_KEYS was accepted")
	}
	k := writeKeys(t, "q query-key-0123456789 query\nsha sha256:"+strings.Repeat("cd", 32)+" admin\n")
	if key, ok := k.Check("query-key-0123456789"); !ok || key.Name != "q" || key.Scope != ScopeRead {
		t.Errorf("query key: %+v %v", key, ok)
	}
}

// Row "/query for an exact ID number": the answer for a stored number is
// the answer for an absent one.
func TestQueryCannotProbePII(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"ok"}}, Policy: testPolicy()})
	do(t, "POST", ts.URL+"/v1/kb", `{"name":"k"}`)
	upload(t, ts.URL+"/v1/kb/k/documents", "c0.txt", []byte("客户档案：身份证号 "+testID+"，电话 "+testPhone+"。\n"))
	upload(t, ts.URL+"/v1/kb/k/documents", "c1.txt", []byte("客户档案：地址 北京市海淀区。\n"))
	hits := func(q string, pii bool) int {
		st, b := do(t, "POST", ts.URL+"/v1/kb/k/query", `{"query":"`+q+`"}`)
		if st != 200 {
			t.Fatalf("query %q: %d %s", q, st, b)
		}
		var out struct{ Data []json.RawMessage }
		json.Unmarshal(b, &out)
		if pii && bytes.Contains(b, []byte(q)) {
			t.Errorf("query %q: the number comes back: %s", q, b)
		}
		return len(out.Data)
	}
	present, absent := hits(testID, true), hits("370285198001010010", true)
	if present != absent || present != 0 {
		t.Errorf("stored ID: %d hits, absent ID: %d", present, absent)
	}
	if p, a := hits(testPhone, true), hits("13912345678", true); p != a {
		t.Errorf("stored phone: %d hits, absent phone: %d", p, a)
	}
	if n := hits("客户档案", false); n != 2 {
		t.Error("an ordinary query finds nothing")
	}
	st, b := do(t, "POST", ts.URL+"/v1/kb/k/query", `{"query":"杀人方法"}`)
	if _, code, _ := errorBody(t, b); st != 400 || code != "content_policy_violation" {
		t.Errorf("refused term in a query: %d %s", st, b)
	}
}

// Row "g1.txt and g2.exe": all or nothing, and the same content is one
// document.
func TestUploadAllOrNothingAndDedupe(t *testing.T) {
	s, ts := testServer(t, Config{Engine: &scripted{}})
	do(t, "POST", ts.URL+"/v1/kb", `{"name":"k"}`)
	url := ts.URL + "/v1/kb/k/documents"
	for _, tc := range []struct {
		name   string
		parts  []part
		status int
	}{
		{"txt with exe", []part{{"g1.txt", []byte("first file\n")}, {"g2.exe", []byte("MZ")}}, 415},
		{"txt with a corrupt docx", []part{{"g1.txt", []byte("first file\n")}, {"bad.docx", []byte("PK not a zip")}}, 422},
		{"txt with a bomb", []part{{"g1.txt", []byte("first file\n")}, {"b.docx", bombDocx(t, 300<<20)}}, 413},
	} {
		st, b, err := uploadParts(context.Background(), t, url, tc.parts, sameOrigin(ts.URL)...)
		if err != nil || st != tc.status {
			t.Errorf("%s: %d %s %v, want %d", tc.name, st, b, err, tc.status)
		}
		noPath(t, s.cfg.KBDir, b)
		if d := listDocs(t, ts.URL, "k"); len(d) != 0 {
			t.Errorf("%s: stored %+v", tc.name, d)
		}
		if f := uploadsOnDisk(t, s.cfg.KBDir, "k"); len(f) != 0 {
			t.Errorf("%s: files left %v", tc.name, f)
		}
	}
	same := []byte("the same content\n")
	st, b, _ := uploadParts(context.Background(), t, url, []part{{"one.txt", same}, {"two.txt", same}}, sameOrigin(ts.URL)...)
	var out struct {
		Data []uploadResult
	}
	json.Unmarshal(b, &out)
	if st != 201 || len(out.Data) != 2 || out.Data[0].Status != "added" || out.Data[1].Status != "duplicate" || out.Data[1].DuplicateOf != out.Data[0].ID {
		t.Fatalf("same file twice: %d %s", st, b)
	}
	st, b, _ = uploadParts(context.Background(), t, url, []part{{"retry.txt", same}}, sameOrigin(ts.URL)...)
	json.Unmarshal(b, &out)
	if st != 200 || out.Data[0].Status != "duplicate" {
		t.Errorf("retried upload: %d %s", st, b)
	}
	if d := listDocs(t, ts.URL, "k"); len(d) != 1 {
		t.Errorf("documents: %+v, want one", d)
	}
	if f := uploadsOnDisk(t, s.cfg.KBDir, "k"); len(f) != 2 {
		t.Errorf("files: %v, want one upload and its sidecar", f)
	}
}

// Row "300 wrong-key requests".
func TestFailedAuthThrottled(t *testing.T) {
	good := "good-key-0123456789"
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"hi"}}, Keys: mustKeys(t, good)})
	var codes []int
	var retry string
	for range 3 * authFailBurst {
		req, _ := http.NewRequest("GET", ts.URL+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer wrong-key-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 {
			retry = resp.Header.Get("Retry-After")
		}
	}
	n401 := 0
	for _, c := range codes {
		if c == 401 {
			n401++
		}
	}
	if n401 > authFailBurst+1 || codes[len(codes)-1] != 429 || retry == "" {
		t.Errorf("codes %v (Retry-After %q): want at most %d 401s, then 429 with Retry-After", codes, retry, authFailBurst+1)
	}
	// While throttled, no key is even looked at.
	if st, b := do(t, "GET", ts.URL+"/v1/models", "", "Authorization", "Bearer "+good); st != 429 {
		t.Errorf("good key while the address is throttled: %d %s", st, b)
	}
	// The page and health stay open.
	healthy(t, ts.URL)
}

// Row "a second server on a locked KB; delete racing other requests".
func TestKBErrorsAreTypedAndPathFree(t *testing.T) {
	s, ts := testServer(t, Config{Engine: &scripted{answer: []string{"ok"}}})
	dir := s.cfg.KBDir
	// Another writer (a CLI ingest, a second server) holds "locked".
	other, err := rag.CreateStore(filepath.Join(dir, "locked"), rag.StoreConfig{Name: "locked", ChunkSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.AddDocuments(context.Background(), []rag.NewDocument{{Path: "/x/held.md", Data: []byte("held by the other writer\n")}}, rag.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	// Reads follow the other writer; writes are refused with 503, no path.
	if d := listDocs(t, ts.URL, "locked"); len(d) != 1 {
		t.Errorf("documents of a locked knowledge base: %+v", d)
	}
	st, b, _ := uploadParts(context.Background(), t, ts.URL+"/v1/kb/locked/documents", []part{{"n.md", []byte("new\n")}}, sameOrigin(ts.URL)...)
	if _, code, _ := errorBody(t, b); st != 503 || code != "kb_locked" {
		t.Errorf("upload to a locked knowledge base: %d %s", st, b)
	}
	noPath(t, dir, b)
	st, b = do(t, "DELETE", ts.URL+"/v1/kb/locked", "")
	if _, code, _ := errorBody(t, b); st != 503 || code != "kb_locked" {
		t.Errorf("delete of a knowledge base another process writes: %d %s", st, b)
	}
	other.Close()
	st, b, _ = uploadParts(context.Background(), t, ts.URL+"/v1/kb/locked/documents", []part{{"n.md", []byte("new\n")}}, sameOrigin(ts.URL)...)
	if st != 201 {
		t.Errorf("upload once the other writer is gone: %d %s", st, b)
	}

	// Delete racing reads and writes: 200, 404 or 409, never 500, never a path.
	for round := range 3 {
		name := fmt.Sprintf("race%d", round)
		do(t, "POST", ts.URL+"/v1/kb", `{"name":"`+name+`"}`)
		upload(t, ts.URL+"/v1/kb/"+name+"/documents", "a.md", []byte("race document\n"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[int]int{}
		record := func(st int, b []byte) {
			mu.Lock()
			seen[st]++
			mu.Unlock()
			if st >= 500 {
				t.Errorf("%s: %d %s", name, st, b)
			}
			noPath(t, dir, b)
		}
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 15 {
					switch (w + i) % 4 {
					case 0:
						record(do(t, "GET", ts.URL+"/v1/kb/"+name+"/documents", ""))
					case 1:
						record(do(t, "POST", ts.URL+"/v1/kb/"+name+"/query", `{"query":"race"}`))
					case 2:
						st, b, _ := uploadParts(context.Background(), t, ts.URL+"/v1/kb/"+name+"/documents", []part{{"u.md", fmt.Appendf(nil, "upload %d %d\n", w, i)}}, sameOrigin(ts.URL)...)
						record(st, b)
					default:
						record(do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:`+name+`","messages":[{"role":"user","content":"race?"}]}`))
					}
				}
			}()
		}
		time.Sleep(5 * time.Millisecond)
		record(do(t, "DELETE", ts.URL+"/v1/kb/"+name, ""))
		wg.Wait()
		if seen[404] == 0 {
			t.Logf("%s: the delete came after every request (%v)", name, seen)
		}
	}
	healthy(t, ts.URL)
}

// Row "headers".
func TestFrameHeaders(t *testing.T) {
	_, ts := testServer(t, Config{Engine: &scripted{}})
	for _, path := range []string{"/", "/v1/models", "/nothing"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, got)
		}
	}
}
