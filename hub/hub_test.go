package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHub serves one repository in both hub layouts:
//
//	HF:         GET /api/models/{repo}/revision/{rev}?blobs=true
//	            GET /{repo}/resolve/{commit}/{path}
//	ModelScope: GET /api/v1/models/{repo}/repo/files?Revision=…&Recursive=true
//	            GET /api/v1/models/{repo}/repo?Revision=…&FilePath=…
//
// dropAfter makes the first download of a file send that many bytes and
// then drop the connection; listedSHA overrides a file's listed digest.
type fakeHub struct {
	t         *testing.T
	repo      string
	commit    string
	files     map[string][]byte
	lfs       map[string]bool
	listedSHA map[string]string
	dropAfter map[string]int
	token     string

	mu       sync.Mutex
	ranges   []string // Range headers of file requests, "" for none
	requests map[string]int
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (h *fakeHub) digest(p string) string {
	if s, ok := h.listedSHA[p]; ok {
		return s
	}
	return sha(h.files[p])
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/api/models/"+h.repo+"/revision/main" && r.URL.Query().Get("blobs") == "true":
		type lfs struct {
			SHA256 string `json:"sha256"`
			Size   int    `json:"size"`
		}
		type sib struct {
			RFilename string `json:"rfilename"`
			Size      int    `json:"size"`
			LFS       *lfs   `json:"lfs,omitempty"`
		}
		var sibs []sib
		for name, b := range h.files {
			s := sib{RFilename: name, Size: len(b)}
			if h.lfs[name] {
				s.LFS = &lfs{SHA256: h.digest(name), Size: len(b)}
			}
			sibs = append(sibs, s)
		}
		json.NewEncoder(w).Encode(map[string]any{"id": h.repo, "sha": h.commit, "siblings": sibs})
	case strings.HasPrefix(p, "/"+h.repo+"/resolve/"+h.commit+"/"):
		h.serveFile(w, r, strings.TrimPrefix(p, "/"+h.repo+"/resolve/"+h.commit+"/"))
	case p == "/api/datasets/"+h.repo+"/revision/main":
		json.NewEncoder(w).Encode(map[string]any{"sha": h.commit, "siblings": []map[string]any{{"rfilename": "data.json", "size": 2}}})
	case p == "/datasets/"+h.repo+"/resolve/"+h.commit+"/data.json":
		w.Write([]byte("[]"))
	case p == "/api/v1/models/"+h.repo+"/repo/files":
		if r.URL.Query().Get("Revision") != "master" || r.URL.Query().Get("Recursive") != "true" {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		files := []map[string]any{{"Path": "sub", "Type": "tree", "Size": 0}}
		for name, b := range h.files {
			files = append(files, map[string]any{"Path": name, "Name": filepath.Base(name), "Type": "blob", "Size": len(b), "Sha256": h.digest(name)})
		}
		json.NewEncoder(w).Encode(map[string]any{"Code": 200, "Data": map[string]any{"Files": files}, "Message": "success", "Success": true})
	case p == "/api/v1/models/"+h.repo+"/repo" && r.URL.Query().Get("Revision") == "master":
		h.serveFile(w, r, r.URL.Query().Get("FilePath"))
	default:
		http.NotFound(w, r)
	}
}

func (h *fakeHub) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	h.requests[name]++
	first := h.requests[name] == 1
	h.mu.Unlock()
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n > len(b) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(b)-1, len(b)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)-start))
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	if drop, ok := h.dropAfter[name]; ok && first {
		w.Write(b[start : start+drop])
		w.(http.Flusher).Flush()
		// Drop the connection mid-body, as a flaky network does.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			h.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	w.Write(b[start:])
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	weights := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	return &fakeHub{
		t: t, repo: "deepseek-ai/Tiny-R1", commit: strings.Repeat("c0ffee", 6) + "abcd",
		files: map[string][]byte{
			"config.json":        []byte(`{"architectures":["Qwen2ForCausalLM"]}`),
			"model.safetensors":  weights,
			"tokenizer.json":     []byte(`{"model":{}}`),
			"sub/extra file.txt": []byte("nested"),
		},
		lfs:       map[string]bool{"model.safetensors": true},
		listedSHA: map[string]string{},
		dropAfter: map[string]int{},
		requests:  map[string]int{},
	}
}

func checkDir(t *testing.T, dir string, h *fakeHub, names ...string) {
	t.Helper()
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if !bytes.Equal(got, h.files[n]) {
			t.Errorf("%s: %d bytes differ from the served %d", n, len(got), len(h.files[n]))
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(n)) + ".part"); err == nil {
			t.Errorf("%s.part left behind", n)
		}
	}
}

func TestPullBothLayouts(t *testing.T) {
	for _, src := range []string{HuggingFace, ModelScope} {
		t.Run(src, func(t *testing.T) {
			h := newFakeHub(t)
			h.token = "secret"
			srv := httptest.NewServer(h)
			defer srv.Close()
			dir := t.TempDir()
			o := Options{Source: src, Endpoint: srv.URL, Token: "secret", Retries: -1}
			res, err := Pull(context.Background(), h.repo, dir, o)
			if err != nil {
				t.Fatal(err)
			}
			checkDir(t, dir, h, "config.json", "model.safetensors", "tokenizer.json", "sub/extra file.txt")
			if got, want := res.Downloaded, 4; got != want {
				t.Errorf("downloaded %d files, want %d", got, want)
			}
			// A second pull finds everything in place and fetches nothing.
			res, err = Pull(context.Background(), h.repo, dir, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Downloaded != 0 || res.Skipped != 4 {
				t.Errorf("second pull: %d downloaded, %d skipped; want 0, 4", res.Downloaded, res.Skipped)
			}
		})
	}
}

func TestPullInclude(t *testing.T) {
	h := newFakeHub(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	files, err := List(context.Background(), h.repo, Options{Endpoint: srv.URL, Include: []string{"*.json"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	if want := "config.json,tokenizer.json"; strings.Join(got, ",") != want {
		t.Errorf("include *.json: got %v, want %s", got, want)
	}
	if _, err := Pull(context.Background(), h.repo, dir, Options{Endpoint: srv.URL, Include: []string{"nothing*"}}); err == nil {
		t.Error("want an error when --include matches nothing")
	}
}

func TestPullResumesInterruptedDownload(t *testing.T) {
	for _, src := range []string{HuggingFace, ModelScope} {
		t.Run(src, func(t *testing.T) {
			h := newFakeHub(t)
			const cut = 20000
			h.dropAfter["model.safetensors"] = cut
			srv := httptest.NewServer(h)
			defer srv.Close()
			dir := t.TempDir()
			o := Options{Source: src, Endpoint: srv.URL, Retries: -1}
			_, err := Pull(context.Background(), h.repo, dir, o)
			if err == nil {
				t.Fatal("the first pull should fail when the connection drops")
			}
			st, serr := os.Stat(filepath.Join(dir, "model.safetensors.part"))
			if serr != nil || st.Size() != cut {
				t.Fatalf("after the drop: .part %v (size %d), want %d bytes kept (error was %v)", serr, sizeOf(st), cut, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
				t.Fatal("an incomplete file was put under its final name")
			}
			if _, err := Pull(context.Background(), h.repo, dir, o); err != nil {
				t.Fatalf("second pull: %v", err)
			}
			checkDir(t, dir, h, "config.json", "model.safetensors", "tokenizer.json", "sub/extra file.txt")
			if got, want := h.ranges[len(h.ranges)-1], fmt.Sprintf("bytes=%d-", cut); !containsStr(h.ranges, want) {
				t.Errorf("no request resumed with Range %q (last Range %q, all %q)", want, got, h.ranges)
			}
		})
	}
}

// Within one Pull, a dropped connection is retried from where it stopped.
func TestPullRetriesWithinOneRun(t *testing.T) {
	h := newFakeHub(t)
	h.dropAfter["model.safetensors"] = 1000
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	if _, err := Pull(context.Background(), h.repo, dir, Options{Endpoint: srv.URL, Retries: 2, Backoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	checkDir(t, dir, h, "model.safetensors")
	if !containsStr(h.ranges, "bytes=1000-") {
		t.Errorf("the retry did not resume: ranges %q", h.ranges)
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	for _, src := range []string{HuggingFace, ModelScope} {
		t.Run(src, func(t *testing.T) {
			h := newFakeHub(t)
			h.listedSHA["model.safetensors"] = strings.Repeat("ab", 32)
			srv := httptest.NewServer(h)
			defer srv.Close()
			dir := t.TempDir()
			_, err := Pull(context.Background(), h.repo, dir, Options{Source: src, Endpoint: srv.URL, Retries: 3, Backoff: time.Millisecond})
			if !errors.Is(err, errChecksum) || !strings.Contains(err.Error(), "model.safetensors") {
				t.Fatalf("got error %v, want a checksum mismatch naming the file", err)
			}
			for _, p := range []string{"model.safetensors", "model.safetensors.part"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s left in place after a checksum mismatch", p)
				}
			}
			if n := h.requests["model.safetensors"]; n != 1 {
				t.Errorf("a checksum mismatch was retried: %d requests", n)
			}
		})
	}
}

func TestPullErrors(t *testing.T) {
	h := newFakeHub(t)
	h.token = "secret"
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		repo string
		o    Options
		want string
	}{
		{h.repo, Options{Endpoint: srv.URL, Retries: -1}, "HF_TOKEN"},
		{"deepseek-ai/missing", Options{Endpoint: srv.URL, Token: "secret", Retries: -1}, "check the repository name"},
		{"no-slash", Options{Endpoint: srv.URL}, "OWNER/NAME"},
		{h.repo, Options{Source: "github", Endpoint: srv.URL}, "unknown hub source"},
		{h.repo, Options{Endpoint: "ftp://x"}, "not an http(s) URL"},
	}
	for _, tc := range tests {
		_, err := Pull(context.Background(), tc.repo, t.TempDir(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Pull(%q, %+v): error %v, want one mentioning %q", tc.repo, tc.o.Source, err, tc.want)
		}
	}
}

func TestPullDataset(t *testing.T) {
	h := newFakeHub(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	dir := t.TempDir()
	if _, err := Pull(context.Background(), h.repo, dir, Options{Endpoint: srv.URL, RepoType: "dataset"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data.json")); err != nil || string(b) != "[]" {
		t.Errorf("dataset file: %q, %v", b, err)
	}
	if _, err := Pull(context.Background(), h.repo, dir, Options{Source: ModelScope, Endpoint: srv.URL, RepoType: "dataset"}); err == nil {
		t.Error("a ModelScope dataset was accepted")
	}
}

func TestHFEndpointFromEnv(t *testing.T) {
	h := newFakeHub(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL+"/")
	files, err := List(context.Background(), h.repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(files), 4; got != want {
		t.Errorf("listed %d files via HF_ENDPOINT, want %d", got, want)
	}
}

func TestUnsafePathsRefused(t *testing.T) {
	for _, p := range []string{"../evil", "/etc/passwd", "a/../../b", "a\\b", ""} {
		if checkRelPath(p) == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	for _, p := range []string{"model.safetensors", "sub/dir/x.json"} {
		if err := checkRelPath(p); err != nil {
			t.Errorf("path %q refused: %v", p, err)
		}
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dnsFailure is a transport on a machine without network: every request
// fails name resolution.
type dnsFailure struct{ calls int }

func (d *dnsFailure) RoundTrip(r *http.Request) (*http.Response, error) {
	d.calls++
	return nil, &net.DNSError{Err: "no such host", Name: r.URL.Hostname(), IsNotFound: true}
}

// TestOfflineFailsFast: an unreachable hub is tried once, not retried with
// backoff, and the error says how to get the model another way, with the
// operation named once.
func TestOfflineFailsFast(t *testing.T) {
	for _, src := range []string{HuggingFace, ModelScope} {
		tr := &dnsFailure{}
		var progress strings.Builder
		_, err := Pull(context.Background(), "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", t.TempDir(),
			Options{Source: src, Client: &http.Client{Transport: tr}, Retries: 4, Progress: &progress})
		var ue *UnreachableError
		if !errors.As(err, &ue) {
			t.Fatalf("%s: error %v, want *UnreachableError", src, err)
		}
		if tr.calls != 1 || strings.Contains(progress.String(), "retrying") {
			t.Errorf("%s: %d requests, progress %q: want one request and no retries", src, tr.calls, progress.String())
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "cannot reach ") || strings.Count(msg, "list files") > 0 || !strings.Contains(msg, "HF_ENDPOINT") {
			t.Errorf("%s: message %q", src, msg)
		}
	}
}
