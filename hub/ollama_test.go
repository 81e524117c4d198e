package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestParseOllamaName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want OllamaName
		str  string
	}{
		{"deepseek-r1:1.5b", OllamaName{OllamaRegistry, "library", "deepseek-r1", "1.5b"}, "deepseek-r1:1.5b"},
		{"ollama:deepseek-r1", OllamaName{OllamaRegistry, "library", "deepseek-r1", "latest"}, "deepseek-r1:latest"},
		{"someone/r1-medical:q4_k_m", OllamaName{OllamaRegistry, "someone", "r1-medical", "q4_k_m"}, "someone/r1-medical:q4_k_m"},
		{"localhost:8080/ns/m:t", OllamaName{"localhost:8080", "ns", "m", "t"}, "localhost:8080/ns/m:t"},
	} {
		got, err := ParseOllamaName(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseOllamaName(%q) = %+v (%q), %v; want %+v (%q)", tc.in, got, got.String(), err, tc.want, tc.str)
		}
	}
	for _, bad := range []string{"", "a/b/c/d", "m:", "../x:1", "m:t/../", "../ns/m:t", "../../x"} {
		if _, err := ParseOllamaName(bad); err == nil {
			t.Errorf("ParseOllamaName(%q): no error", bad)
		}
	}
}

// fakeRegistry serves one model as Ollama's registry does; corrupt makes
// it serve wrong bytes for the model blob, and served counts the body
// bytes it sent.
type fakeRegistry struct {
	manifest []byte
	blobs    map[string][]byte
	corrupt  bool
	mu       sync.Mutex
	served   int64
	ranges   []string
}

func newFakeRegistry(t *testing.T, gguf []byte) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{blobs: map[string][]byte{}}
	add := func(media string, b []byte) ollamaLayer {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		r.blobs[d] = b
		return ollamaLayer{MediaType: media, Digest: d, Size: int64(len(b))}
	}
	m := ollamaManifest{
		SchemaVersion: 2, MediaType: ollamaManifestMedia,
		Config: add("application/vnd.docker.container.image.v1+json", []byte(`{"model_format":"gguf","model_family":"qwen2"}`)),
		Layers: []ollamaLayer{
			add(OllamaModelMedia, gguf),
			add(OllamaTemplateMedia, []byte("{{ .Prompt }}")),
			add(OllamaParamsMedia, []byte(`{"stop":["<｜end▁of▁sentence｜>"]}`)),
		},
	}
	var err error
	if r.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.URL.Path == "/v2/library/deepseek-r1/manifests/1.5b":
		w.Write(r.manifest)
	case strings.HasPrefix(req.URL.Path, "/v2/library/deepseek-r1/blobs/"):
		d := strings.TrimPrefix(req.URL.Path, "/v2/library/deepseek-r1/blobs/")
		b, ok := r.blobs[d]
		if !ok {
			http.NotFound(w, req)
			return
		}
		if r.corrupt && len(b) > 1000 {
			b = append([]byte{}, b...)
			b[len(b)-1] ^= 1
		}
		var start int
		if rg := req.Header.Get("Range"); rg != "" {
			r.mu.Lock()
			r.ranges = append(r.ranges, rg)
			r.mu.Unlock()
			start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(b)-1, len(b)))
			w.WriteHeader(http.StatusPartialContent)
		}
		n, _ := w.Write(b[start:])
		r.mu.Lock()
		r.served += int64(n)
		r.mu.Unlock()
	default:
		http.NotFound(w, req)
	}
}

// TestPullOllama: a pull writes the blobs under their digests and the
// manifest where Ollama keeps it; the model then resolves and lists; a
// second pull transfers nothing; an interrupted blob resumes from its
// .part file with a Range request.
func TestPullOllama(t *testing.T) {
	gguf := []byte("GGUF" + strings.Repeat("weights ", 4096))
	reg := newFakeRegistry(t, gguf)
	srv := httptest.NewServer(reg)
	defer srv.Close()
	store := t.TempDir()
	name, _ := ParseOllamaName("deepseek-r1:1.5b")
	o := OllamaOptions{Registry: srv.URL, Store: store, Retries: -1}

	// An earlier pull stopped halfway through the model blob.
	var modelDigest string
	for d, b := range reg.blobs {
		if len(b) == len(gguf) {
			modelDigest = d
		}
	}
	part := blobPath(store, modelDigest) + ".part"
	os.MkdirAll(filepath.Dir(part), 0o755)
	if err := os.WriteFile(part, gguf[:len(gguf)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	m, res, err := PullOllama(context.Background(), name, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.ranges) != 1 || reg.ranges[0] != fmt.Sprintf("bytes=%d-", len(gguf)/2) {
		t.Errorf("Range requests %q, want one from byte %d", reg.ranges, len(gguf)/2)
	}
	if res.Downloaded != 4 || res.Skipped != 0 {
		t.Errorf("downloaded %d, skipped %d; want 4 and 0", res.Downloaded, res.Skipped)
	}
	got, err := os.ReadFile(m.GGUF)
	if err != nil || string(got) != string(gguf) {
		t.Fatalf("model blob %s: %d bytes, %v", m.GGUF, len(got), err)
	}
	if m.Template == "" || m.Params == "" || m.Size != int64(len(gguf)) {
		t.Errorf("model %+v lacks template/params or size", m)
	}
	if _, err := os.Stat(filepath.Join(store, "manifests", OllamaRegistry, "library", "deepseek-r1", "1.5b")); err != nil {
		t.Errorf("manifest not where Ollama keeps it: %v", err)
	}
	r, err := ResolveOllama(store, name)
	if err != nil || r.GGUF != m.GGUF {
		t.Errorf("ResolveOllama = %+v, %v", r, err)
	}
	list, err := ListOllama(store)
	if err != nil || len(list) != 1 || list[0].Name != name {
		t.Errorf("ListOllama = %v, %v", list, err)
	}
	before := reg.served
	if _, res, err = PullOllama(context.Background(), name, o); err != nil || res.Skipped != 4 || reg.served != before {
		t.Errorf("second pull: %+v, %v, %d bytes served again", res, err, reg.served-before)
	}
}

// TestPullOllamaDigestMismatch: a blob whose bytes do not hash to its
// digest is removed, and no manifest names the model.
func TestPullOllamaDigestMismatch(t *testing.T) {
	reg := newFakeRegistry(t, []byte("GGUF"+strings.Repeat("x", 5000)))
	reg.corrupt = true
	srv := httptest.NewServer(reg)
	defer srv.Close()
	store := t.TempDir()
	name, _ := ParseOllamaName("deepseek-r1:1.5b")
	_, _, err := PullOllama(context.Background(), name, OllamaOptions{Registry: srv.URL, Store: store, Retries: -1})
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	if _, err := ResolveOllama(store, name); err == nil {
		t.Error("the model resolves after a failed pull")
	}
	blobs, _ := filepath.Glob(filepath.Join(store, "blobs", "*"))
	for _, b := range blobs {
		if st, _ := os.Stat(b); st.Size() > 1000 {
			t.Errorf("corrupt blob %s kept", b)
		}
	}
}

// TestResolveOllamaMissing: a name the store lacks says how to get it.
func TestResolveOllamaMissing(t *testing.T) {
	name, _ := ParseOllamaName("deepseek-r1:7b")
	_, err := ResolveOllama(t.TempDir(), name)
	if err == nil || !strings.Contains(err.Error(), "ragtune model pull ollama:deepseek-r1:7b") {
		t.Errorf("err = %v", err)
	}
	if list, err := ListOllama(filepath.Join(t.TempDir(), "none")); err != nil || len(list) != 0 {
		t.Errorf("ListOllama of a missing store = %v, %v", list, err)
	}
}
