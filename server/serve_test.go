package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeShutsDown: Serve answers on its listener until the context
// ends, then returns nil with the knowledge bases closed and the port
// released, logging each stage.
func TestServeShutsDown(t *testing.T) {
	var logs bytes.Buffer
	s, err := New(Config{Engine: &scripted{}, ModelName: "m", NoGuard: true, KBDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, time.Second) }()
	url := "http://" + ln.Addr().String()
	healthy(t, url)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still answers after Serve returned")
	}
	for _, want := range []string{"msg=serving", "model=m", "msg=\"shutting down"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %q:\n%s", want, logs.String())
		}
	}
	// A listener that fails makes Serve return its error.
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2.Close()
	if err := s.Serve(context.Background(), ln2, time.Second); err == nil || !strings.HasPrefix(err.Error(), "serve: ") {
		t.Errorf("closed listener: %v", err)
	}
}

func TestModelID(t *testing.T) {
	for in, want := range map[string]string{"./r1-1.5b/": "r1-1.5b", "/a/b/model.gguf": "model.gguf", "m": "m", "a//": "a"} {
		if got := ModelID(in); got != want {
			t.Errorf("ModelID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "", ":0": "", "[::1]:80": "",
		"notanaddress":    `"notanaddress" is an invalid address: want HOST:PORT`,
		"127.0.0.1:http2": `port "http2" is not a number`,
		"127.0.0.1:70000": `port "70000" is not a number`,
		"a b:80":          `host "a b"`,
	} {
		err := CheckListenAddr(addr)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckListenAddr(%q) = %v, want %q", addr, err, want)
		}
	}
}

func TestUseEmbeddingsAndReranker(t *testing.T) {
	var c Config
	if err := c.UseEmbeddings("", ""); err != nil || c.Embed != nil {
		t.Errorf("neither: %v, embed %v", err, c.Embed != nil)
	}
	if err := c.UseEmbeddings("http://127.0.0.1:1", ""); err != nil || c.Embed == nil || c.EmbedURL != "http://127.0.0.1:1" || c.EmbedModel != "embedding" {
		t.Errorf("remote: %v, %+v", err, c)
	}
	dir := filepath.Join(t.TempDir(), "bge-small")
	os.Mkdir(dir, 0o755)
	c = Config{}
	if err := c.UseEmbeddings("", dir+"/"); err != nil || c.Embed == nil || c.EmbedModel != "bge-small" || c.EmbedPath != dir || c.EmbedURL != "" {
		t.Errorf("local: %v, %+v", err, c)
	}
	if err := c.UseEmbeddings("", dir+"-missing"); err == nil {
		t.Error("a missing local encoder was accepted")
	}
	if err := c.UseReranker(""); err != nil || c.Rerank != nil {
		t.Errorf("no reranker: %v", err)
	}
	if err := c.UseReranker(dir); err != nil || c.Rerank == nil || c.RerankModel != "bge-small" {
		t.Errorf("reranker: %v, %q", err, c.RerankModel)
	}
	if err := c.UseReranker(dir + "-missing"); err == nil {
		t.Error("a missing reranker was accepted")
	}
}
