// Package server is ragtune's HTTP front end: an OpenAI-compatible API
// (chat and text completions with streaming, embeddings, models), a
// knowledge-base API (create, upload, list, delete, query, and chat that
// answers from a knowledge base with citations), a web page, health and
// Prometheus metrics. It owns admission (a bounded FIFO queue in front of
// the engine's slots), API keys and per-key rate limits, body limits, and
// the guard policy on input, output and retrieved text.
//
// It does not generate, retrieve or screen text itself: llm.Engine,
// rag.Store and guard.Policy do, and package openai describes the wire
// format. The process around it (flags, listening, signals) lives in
// cmd/ragtune/serve.go.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"ragtune/guard"
	"ragtune/llm"
	"ragtune/openai"
	"ragtune/rag"
	"ragtune/server/web"
)

// Config configures a Server. Engine is required; everything else has a
// working default.
type Config struct {
	Engine llm.Engine
	// ModelName is the id /v1/models lists and responses carry.
	ModelName string
	// DefaultSampling fills parameters a request leaves out (a local
	// model's generation_config.json).
	DefaultSampling llm.Sampling
	// DefaultMaxTokens caps generations that ask for no limit; 0 leaves
	// them to the context size.
	DefaultMaxTokens int

	// Embed serves /v1/embeddings and embeds queries of knowledge bases
	// created through the API; nil answers /v1/embeddings with an error
	// that says how to configure one.
	Embed      rag.Embedder
	EmbedModel string
	// EmbedURL is recorded in knowledge bases created through the API so
	// that later ingests embed the same way (rag.EmbeddingConfig).
	EmbedURL string
	// EmbedPath is the local encoder's absolute path, recorded the same
	// way when Embed is a local BERT/bge model.
	EmbedPath string

	// Rerank serves /v1/rerank (a local cross-encoder); nil answers it
	// with an error that says how to configure one. Knowledge bases
	// rerank with the reranker they record, not this one.
	Rerank      rag.RerankScorer
	RerankModel string

	// KBDir holds the knowledge bases (one directory each).
	KBDir string

	// Policy screens input, output and retrieved text; nil uses
	// guard.DefaultPolicy(). Set NoGuard to turn screening off.
	Policy  *guard.Policy
	NoGuard bool

	// Keys, when non-empty, are required on every API call; each has a
	// name and a scope (see Scope), and knowledge bases belong to the key
	// that created them unless shared.
	Keys *Keys
	// RateLimit is requests per second per key (or per client address
	// without keys); 0 turns it off. Burst defaults to 2×RateLimit.
	RateLimit float64
	Burst     int

	// Parallel is how many generations run at once (the engine's slots);
	// MaxQueue how many may wait; the next gets 429.
	Parallel int
	MaxQueue int
	// Timeout bounds one generation; 0 means 10 minutes.
	Timeout time.Duration

	// MaxBodyBytes limits JSON bodies (default 1 MiB); MaxUploadBytes a
	// document upload (default 16 MiB).
	MaxBodyBytes   int64
	MaxUploadBytes int64
	// MaxExtractBytes bounds what extracting one upload may inflate to
	// (all zip entries and PDF streams together, and the decoded text);
	// default 8×MaxUploadBytes. An upload past it is refused with 413.
	MaxExtractBytes int64

	// ListenAddr is the address the server listens on: its host is an
	// allowed Host header (besides loopback names and addresses).
	ListenAddr string
	// AllowedHosts are further Host names clients may use (a reverse
	// proxy's public name); requests naming another host get 403, which
	// stops DNS-rebinding pages.
	AllowedHosts []string
	// AllowedOrigins are browser origins ("https://app.example") besides
	// the server's own that may send state-changing requests.
	AllowedOrigins []string

	// ReportsDir, when set, is served under /reports/ and linked from
	// the web page (eval reports).
	ReportsDir string

	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// Server serves the API. Create it with New and close it with Close.
type Server struct {
	cfg       Config
	policy    *guard.Policy
	sched     *scheduler
	limiter   *rateLimiter
	authFails *rateLimiter // failed authentications per client address
	metrics   *metrics
	kbs       *kbManager
	rerankers rerankers
	log       *slog.Logger
	mux       *http.ServeMux
	created   int64

	closeOnce sync.Once
}

// New builds a server.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("server: no engine")
	}
	if cfg.ModelName == "" {
		cfg.ModelName = "ragtune"
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.MaxQueue < 0 {
		cfg.MaxQueue = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 16 << 20
	}
	if cfg.MaxExtractBytes == 0 {
		cfg.MaxExtractBytes = 8 * cfg.MaxUploadBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, sched: newScheduler(cfg.Parallel, cfg.MaxQueue),
		limiter:   newRateLimiter(cfg.RateLimit, cfg.Burst),
		authFails: newRateLimiter(authFailRate, authFailBurst), metrics: newMetrics(), log: log,
		created: time.Now().Unix()}
	if !cfg.NoGuard {
		s.policy = cfg.Policy
		if s.policy == nil {
			s.policy = guard.DefaultPolicy()
		}
	}
	if cfg.KBDir != "" {
		s.kbs = newKBManager(cfg.KBDir, cfg.Embed, cfg.EmbedURL, cfg.EmbedModel, cfg.EmbedPath)
	}
	s.routes()
	return s, nil
}

// OpenKB opens a knowledge base now (for --kb at startup), so a missing
// one fails before the server listens. One that another process is
// writing opens too: reads follow that writer, writes answer 503 until it
// is done.
func (s *Server) OpenKB(name string) error {
	if s.kbs == nil {
		return errors.New("no knowledge-base directory configured")
	}
	_, err := s.kbs.open(name, false)
	return err
}

// Close closes the knowledge bases (checkpointing them). Call it after
// http.Server.Shutdown has finished the requests in flight.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.kbs != nil {
			err = s.kbs.closeAll()
		}
	})
	return err
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

type route struct {
	pattern string
	h       http.HandlerFunc
	open    bool     // no API key needed (health, the web page)
	scope   Scope    // the least scope a key needs
	body    bodyKind // what a POST/PATCH body must be
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	rs := []route{
		{"POST /v1/chat/completions", s.handleChat, false, ScopeRead, bodyJSON},
		{"POST /v1/completions", s.handleCompletion, false, ScopeRead, bodyJSON},
		{"POST /v1/embeddings", s.handleEmbeddings, false, ScopeRead, bodyJSON},
		{"POST /v1/rerank", s.handleRerank, false, ScopeRead, bodyJSON},
		{"GET /v1/models", s.handleModels, false, ScopeRead, bodyNone},
		{"GET /v1/models/{id}", s.handleModel, false, ScopeRead, bodyNone},
		{"GET /v1/kb", s.handleKBList, false, ScopeRead, bodyNone},
		{"POST /v1/kb", s.handleKBCreate, false, ScopeWrite, bodyJSON},
		{"GET /v1/kb/{kb}", s.handleKBGet, false, ScopeRead, bodyNone},
		{"PATCH /v1/kb/{kb}", s.handleKBShare, false, ScopeWrite, bodyJSON},
		{"DELETE /v1/kb/{kb}", s.handleKBDelete, false, ScopeWrite, bodyNone},
		{"GET /v1/kb/{kb}/documents", s.handleDocList, false, ScopeRead, bodyNone},
		{"POST /v1/kb/{kb}/documents", s.handleDocUpload, false, ScopeWrite, bodyMultipart},
		{"DELETE /v1/kb/{kb}/documents/{doc}", s.handleDocDelete, false, ScopeWrite, bodyNone},
		{"GET /v1/kb/{kb}/chunks/{chunk}", s.handleChunk, false, ScopeRead, bodyNone},
		{"POST /v1/kb/{kb}/query", s.handleKBQuery, false, ScopeRead, bodyJSON},
		{"GET /metrics", s.handleMetrics, false, ScopeAdmin, bodyNone},
		{"GET /healthz", s.handleHealth, true, 0, bodyNone},
		{"GET /api/config", s.handleUIConfig, true, 0, bodyNone},
		{"GET /{$}", s.handleIndex, true, 0, bodyNone},
		{"GET /static/", s.handleStatic, true, 0, bodyNone},
	}
	if s.cfg.ReportsDir != "" {
		fs := http.StripPrefix("/reports/", http.FileServer(http.Dir(s.cfg.ReportsDir)))
		rs = append(rs, route{"GET /reports/", fs.ServeHTTP, false, ScopeAdmin, bodyNone})
	}
	for _, r := range rs {
		s.mux.Handle(r.pattern, s.wrap(r))
	}
	// Anything else gets an OpenAI-style 404 (or 405) rather than the
	// mux's plain text, so clients parse one error shape.
	s.mux.Handle("/", s.wrap(route{"/", s.handleNotFound, true, 0, bodyNone}))
}

// statusWriter records the status for logs and metrics and passes
// flushing through for streaming.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type ctxKey int

const clientKey ctxKey = 0

// wrap adds what every route shares: panic recovery, API keys, rate
// limits, security headers, metrics and the request log.
func (s *Server) wrap(rt route) http.Handler {
	name := rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// No page may frame this one (clickjacking the web page's buttons).
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		client := "ip:" + clientIP(r)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", "route", name, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, openai.TypeServer, "internal error", "", "")
				}
			}
			d := time.Since(start)
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			s.metrics.observeRequest(name, status, d)
			s.log.Info("request", "method", r.Method, "route", name, "status", status,
				"ms", d.Milliseconds(), "bytes", sw.bytes, "client", client)
		}()
		if !s.hostAllowed(r.Host) {
			writeError(sw, http.StatusForbidden, openai.TypePermission,
				"this server does not answer to that Host name: use a loopback address or the listen address, "+
					"or start it with --allowed-host NAME (a reverse proxy's name)", "", "host_not_allowed")
			return
		}
		c := caller{scope: ScopeAdmin}
		if !rt.open && s.cfg.Keys.Len() > 0 {
			// Failed attempts are counted per address before any key is
			// looked at, so guessing is throttled whatever is guessed.
			ip := "ip:" + clientIP(r)
			if ok, wait := s.authFails.peek(ip, time.Now()); !ok {
				s.metrics.rateLimited.Add(1)
				sw.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				writeError(sw, http.StatusTooManyRequests, openai.TypeRateLimit,
					fmt.Sprintf("too many failed authentications from this address: retry in %.0fs", math.Ceil(wait.Seconds())), "", "auth_throttled")
				return
			}
			key, ok := s.cfg.Keys.Check(bearer(r))
			if !ok {
				s.authFails.allow(ip, time.Now())
				sw.Header().Set("WWW-Authenticate", `Bearer realm="ragtune"`)
				writeError(sw, http.StatusUnauthorized, openai.TypeAuthentication,
					"missing or invalid API key: send 'Authorization: Bearer KEY'", "", "invalid_api_key")
				return
			}
			client = "key:" + key.Name
			c = caller{name: key.Name, scope: key.Scope, keyed: true}
			if c.scope < rt.scope {
				writeError(sw, http.StatusForbidden, openai.TypePermission,
					fmt.Sprintf("key %q has scope %s; %s needs %s", key.Name, key.Scope, rt.pattern, rt.scope), "", "insufficient_scope")
				return
			}
		}
		if s.limiter != nil && !rt.open {
			if ok, wait := s.limiter.allow(client, time.Now()); !ok {
				s.metrics.rateLimited.Add(1)
				sw.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				writeError(sw, http.StatusTooManyRequests, openai.TypeRateLimit,
					fmt.Sprintf("rate limit exceeded: retry in %.1fs", wait.Seconds()), "", "rate_limit_exceeded")
				return
			}
		}
		if he := s.checkRequest(r, rt.body); he != nil {
			he.write(sw)
			return
		}
		ctx := context.WithValue(r.Context(), clientKey, client)
		r = r.WithContext(context.WithValue(ctx, callerKey, c))
		rt.h(sw, r)
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, msg, param, code string) {
	writeJSON(w, status, openai.NewError(typ, msg, param, code))
}

// writeRequestError answers a decoding or validation failure with 400.
func writeRequestError(w http.ResponseWriter, err error) {
	var re *openai.RequestError
	if errors.As(err, &re) {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, re.Message, re.Param, re.Code)
		return
	}
	writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), "", "")
}

// readBody reads a JSON body up to the limit; a larger one is a 413.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest,
				fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes), "", "request_too_large")
			return nil, false
		}
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "could not read request body", "", "")
		return nil, false
	}
	return body, true
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	// The catch-all route hides the mux's own 405; give it back.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "/" && pattern != "" {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest,
				fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, m), "", "method_not_allowed")
			return
		}
	}
	writeError(w, http.StatusNotFound, openai.TypeNotFound,
		fmt.Sprintf("no route %s %s (see /v1/models, /v1/chat/completions, /v1/kb)", r.Method, r.URL.Path), "", "not_found")
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	running, waiting := s.sched.depth()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "model": s.cfg.ModelName,
		"running": running, "queued": waiting})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	n := 0
	if s.kbs != nil {
		n = s.kbs.openCount()
	}
	s.metrics.write(w, s.sched, n, s.cfg.Engine)
}

func (s *Server) models(c caller) []openai.Model {
	ms := []openai.Model{{ID: s.cfg.ModelName, Object: "model", Created: s.created, OwnedBy: "ragtune"}}
	if s.cfg.Embed != nil && s.cfg.EmbedModel != "" && s.cfg.EmbedModel != s.cfg.ModelName {
		ms = append(ms, openai.Model{ID: s.cfg.EmbedModel, Object: "model", Created: s.created, OwnedBy: "ragtune"})
	}
	if s.kbs != nil {
		for _, kb := range s.kbs.list() {
			if c.checkKB(kb, s.kbs.accessOf(kb), ScopeRead) != nil {
				continue
			}
			ms = append(ms, openai.Model{ID: ragModelPrefix + kb, Object: "model", Created: s.created, OwnedBy: "ragtune"})
		}
	}
	return ms
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, openai.ModelList{Object: "list", Data: s.models(callerFrom(r.Context()))})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, m := range s.models(callerFrom(r.Context())) {
		if m.ID == id {
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	writeError(w, http.StatusNotFound, openai.TypeNotFound, fmt.Sprintf("model %q does not exist", id), "model", "model_not_found")
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var req openai.EmbeddingRequest
	if err := openai.Decode(body, &req); err != nil {
		writeRequestError(w, err)
		return
	}
	if s.cfg.Embed == nil {
		writeError(w, http.StatusNotImplemented, openai.TypeInvalidRequest,
			"this server has no embedding model: start 'ragtune serve' with --embed-url URL (an OpenAI-compatible embeddings server) to serve /v1/embeddings; the chat model's hidden states are not a sentence embedding",
			"model", "embeddings_not_configured")
		return
	}
	if len(req.Input) == 0 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "input must be a non-empty string or list of strings", "input", "")
		return
	}
	if len(req.Input) > 2048 {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "at most 2048 inputs per request", "input", "")
		return
	}
	for i, t := range req.Input {
		if t == "" {
			writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, fmt.Sprintf("input[%d] is empty", i), "input", "")
			return
		}
	}
	if f := req.EncodingFormat; f != "" && f != "float" && f != "base64" {
		writeError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "encoding_format must be float or base64", "encoding_format", "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	vecs, err := s.cfg.Embed(ctx, req.Input)
	if err != nil {
		s.log.Warn("embed failed", "err", s.redact(err.Error()))
		writeError(w, http.StatusBadGateway, openai.TypeServer, "embedding backend failed: "+s.redact(err.Error()), "", "")
		return
	}
	if len(vecs) != len(req.Input) {
		writeError(w, http.StatusBadGateway, openai.TypeServer, fmt.Sprintf("embedding backend returned %d vectors for %d inputs", len(vecs), len(req.Input)), "", "")
		return
	}
	resp := openai.EmbeddingResponse{Object: "list", Model: s.cfg.EmbedModel}
	chars := 0
	for i, v := range vecs {
		if req.Dimensions != nil && *req.Dimensions > 0 && *req.Dimensions < len(v) {
			v = truncateNormalize(v, *req.Dimensions)
		}
		e := openai.Vector{Floats: v, Base64: req.EncodingFormat == "base64"}
		resp.Data = append(resp.Data, openai.Embedding{Object: "embedding", Index: i, Embedding: e})
		chars += len([]rune(req.Input[i]))
	}
	// The embedder does not report tokens; count characters, which is
	// what a byte-level or CJK vocabulary roughly spends.
	resp.Usage = openai.Usage{PromptTokens: chars, TotalTokens: chars}
	writeJSON(w, http.StatusOK, resp)
}

// redact masks personal data in text bound for logs or error messages.
func (s *Server) redact(text string) string {
	if s.policy == nil {
		return text
	}
	out, _ := s.policy.Redact(s.maskJoinedPII(text))
	return out
}

func (s *Server) handleUIConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"model":        s.cfg.ModelName,
		"auth":         s.cfg.Keys.Len() > 0,
		"kb":           s.kbs != nil,
		"reports":      s.cfg.ReportsDir != "",
		"embeddings":   s.cfg.Embed != nil,
		"max_upload":   s.cfg.MaxUploadBytes,
		"max_extract":  s.cfg.MaxExtractBytes,
		"extensions":   rag.Extensions,
		"guard":        s.policy != nil,
		"rag_prefix":   ragModelPrefix,
		"server_state": "ok",
	})
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(web.Index())
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	data, ctype, ok := web.Asset(name)
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(data)
}
