package server

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"ragtune/openai"
)

// caller is who sends a request: an API key's name and scope, or, on a
// server without keys, the one local user with every right.
type caller struct {
	name  string // key name; "" without keys
	scope Scope
	keyed bool // the server has keys and this request presented one
}

const callerKey ctxKey = 1

func callerFrom(ctx context.Context) caller {
	if c, ok := ctx.Value(callerKey).(caller); ok {
		return c
	}
	return caller{scope: ScopeAdmin}
}

// checkKB decides whether c may use knowledge base name (owned as a says)
// with the given access. Admins and a server without keys may do
// anything; the owner may read and write its own; others may read a
// shared one; a knowledge base without an owner (made by 'ragtune ingest')
// is readable by every key and writable by admins.
func (c caller) checkKB(name string, a kbAccess, need Scope) *httpError {
	if !c.keyed || c.scope >= ScopeAdmin {
		return nil
	}
	if c.scope < need {
		return &httpError{http.StatusForbidden, openai.TypePermission,
			fmt.Sprintf("key %q has scope %s; changing knowledge base %q needs write", c.name, c.scope, name), "insufficient_scope"}
	}
	switch {
	case a.Owner == c.name:
		return nil
	case a.Owner == "" && need == ScopeRead, a.Shared && need == ScopeRead:
		return nil
	case a.Owner == "":
		return &httpError{http.StatusForbidden, openai.TypePermission,
			fmt.Sprintf("knowledge base %q has no owner (it was built with 'ragtune ingest'): only an admin key may change it", name), "kb_forbidden"}
	case need == ScopeRead:
		return &httpError{http.StatusForbidden, openai.TypePermission,
			fmt.Sprintf("knowledge base %q belongs to another key and is not shared: its owner can share it with PATCH /v1/kb/%s {\"shared\": true}, or use an admin key", name, name), "kb_forbidden"}
	}
	return &httpError{http.StatusForbidden, openai.TypePermission,
		fmt.Sprintf("knowledge base %q belongs to another key: only its owner or an admin key may change it", name), "kb_forbidden"}
}

// bodyKind is what a route accepts as its request body.
type bodyKind int

const (
	bodyNone      bodyKind = iota
	bodyJSON               // application/json only
	bodyMultipart          // multipart/form-data (uploads)
)

// hostAllowed reports whether a request's Host names this server. A page
// on an attacker's domain that resolves to 127.0.0.1 (DNS rebinding)
// reaches the server with that domain as its Host, and is refused: only
// loopback names and addresses, the listen address, and the names given
// with --allowed-host pass. A server bound to every interface also takes
// any IP address, which no rebinding can forge.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // RFC 6761: always loopback
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range s.cfg.AllowedHosts {
		a = strings.ToLower(a)
		if h, _, err := net.SplitHostPort(a); err == nil {
			a = h
		}
		if strings.Trim(a, "[]") == host {
			return true
		}
	}
	if s.cfg.ListenAddr != "" {
		lh, _, err := net.SplitHostPort(s.cfg.ListenAddr)
		if err != nil {
			lh = s.cfg.ListenAddr
		}
		lh = strings.ToLower(strings.Trim(lh, "[]"))
		if lh == host {
			return true
		}
		if lip := net.ParseIP(lh); (lh == "" || lip != nil && lip.IsUnspecified()) && ip != nil {
			return true
		}
	}
	return false
}

// originAllowed checks a state-changing request's origin. A browser
// sends Origin with every cross-origin POST or DELETE; it must be this
// server's own origin (same host and port as Host) or one given with
// --allowed-origin. Without an Origin, a request is allowed unless the
// browser's Sec-Fetch-Site says it comes from another site.
func (s *Server) originAllowed(r *http.Request) (bool, string) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
			return true, ""
		}
		return false, "a cross-site browser request"
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true, ""
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false, fmt.Sprintf("origin %q", origin)
	}
	if strings.EqualFold(u.Host, r.Host) || strings.EqualFold(defaultPort(u), defaultPortHost(r)) {
		return true, ""
	}
	return false, fmt.Sprintf("origin %q", origin)
}

// defaultPort writes an origin's host with its scheme's default port, so
// "http://a" and Host "a:80" compare equal.
func defaultPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

func defaultPortHost(r *http.Request) string {
	if _, _, err := net.SplitHostPort(r.Host); err == nil {
		return r.Host
	}
	if r.TLS != nil {
		return r.Host + ":443"
	}
	return r.Host + ":80"
}

// sameOriginBrowser reports whether a browser marked the request as coming
// from this server's own page.
func (s *Server) sameOriginBrowser(r *http.Request) bool {
	if r.Header.Get("Origin") != "" {
		ok, _ := s.originAllowed(r)
		return ok
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

// checkRequest applies the cross-origin rules to a state-changing request
// before its handler runs. JSON routes take application/json only: a
// browser can send text/plain or a form across origins without asking
// (no CORS preflight), but not JSON. Uploads (multipart, which a
// cross-origin form can send) need this server's own page or a header no
// cross-origin page can set: Authorization or X-Api-Key.
func (s *Server) checkRequest(r *http.Request, body bodyKind) *httpError {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return nil
	}
	if ok, what := s.originAllowed(r); !ok {
		return &httpError{http.StatusForbidden, openai.TypePermission,
			"cross-origin request refused (" + what + "): only this server's own page may change it from a browser; " +
				"start the server with --allowed-origin ORIGIN to allow another", "cross_origin_refused"}
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch body {
	case bodyJSON:
		if ctype != "application/json" {
			return &httpError{http.StatusUnsupportedMediaType, openai.TypeInvalidRequest,
				"send the body as JSON with 'Content-Type: application/json'", "unsupported_media_type"}
		}
	case bodyMultipart:
		if ctype != "multipart/form-data" {
			return &httpError{http.StatusUnsupportedMediaType, openai.TypeInvalidRequest,
				"upload files as multipart/form-data ('curl -F file=@doc.md')", "unsupported_media_type"}
		}
		if !s.sameOriginBrowser(r) && r.Header.Get("Authorization") == "" && r.Header.Get("X-Api-Key") == "" {
			return &httpError{http.StatusForbidden, openai.TypePermission,
				"an upload must come from this server's page, or carry an 'Authorization: Bearer KEY' header " +
					"(any value on a server without keys, e.g. curl -H 'Authorization: Bearer local' -F file=@doc.md)", "upload_origin_refused"}
		}
	}
	return nil
}
