package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ragtune/rag"
)

// Serve answers HTTP on ln until ctx is done, then stops accepting
// connections, lets the requests in flight finish for up to grace (and
// closes what is left after it) and closes the knowledge bases. The
// http.Server's limits keep slow or idle clients from holding
// connections: headers within 10 s, a whole request within 5 minutes,
// idle keep-alives 2 minutes, headers at most 64 KiB. It returns an error
// only when serving itself failed; the caller closes the engine.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("serving", "url", "http://"+ln.Addr().String()+"/", "model", s.cfg.ModelName, "api_keys", s.cfg.Keys.Len(), "kb_dir", s.cfg.KBDir)

	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing requests in flight", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("grace period over: closing remaining connections")
		hs.Close()
	}
	if err := s.Close(); err != nil {
		s.log.Error("close knowledge bases", "err", err)
	}
	return nil
}

// UseEmbeddings sets what answers /v1/embeddings and embeds new
// knowledge bases: the OpenAI-compatible server at url (sent model, named
// "embedding" when empty; key from RAGTUNE_EMBED_API_KEY), or without url
// the local BERT/bge encoder at model (an HF directory or GGUF, loaded on
// first use). With neither, embeddings stay off. A local model that is
// not there is an error.
func (c *Config) UseEmbeddings(url, model string) error {
	switch {
	case url != "":
		c.Embed = rag.Batched(rag.RemoteEmbedder(url, model, os.Getenv("RAGTUNE_EMBED_API_KEY"), nil), 64)
		c.EmbedURL, c.EmbedModel = url, model
		if c.EmbedModel == "" {
			c.EmbedModel = "embedding"
		}
	case model != "":
		if _, err := os.Stat(model); err != nil {
			return err
		}
		c.Embed = rag.Batched(rag.LocalBertEmbedder(model), 32)
		c.EmbedModel = ModelID(model)
		if abs, err := filepath.Abs(model); err == nil {
			c.EmbedPath = abs
		}
	}
	return nil
}

// UseReranker serves /v1/rerank with the local cross-encoder at path
// (loaded on first use); "" leaves it off. A path that is not there is an
// error.
func (c *Config) UseReranker(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return err
	}
	c.Rerank, c.RerankModel = rag.LocalCrossEncoder(path), ModelID(path)
	return nil
}

// ModelID is the name clients see for a model path: its base name
// ("./r1-1.5b/" is "r1-1.5b").
func ModelID(path string) string {
	for len(path) > 1 && (path[len(path)-1] == '/' || path[len(path)-1] == os.PathSeparator) {
		path = path[:len(path)-1]
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' || path[i] == os.PathSeparator {
			return path[i+1:]
		}
	}
	return path
}

// CheckListenAddr rejects a listen address that is not HOST:PORT before
// anything else is said about it (such as whether it is loopback).
func CheckListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is an invalid address: want HOST:PORT, e.g. 127.0.0.1:8080 or :8080", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q is an invalid address: port %q is not a number from 0 to 65535", addr, port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q is an invalid address: host %q", addr, host)
	}
	return nil
}
