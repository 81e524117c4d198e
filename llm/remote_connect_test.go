package llm_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ragtune/llm"
	"ragtune/server"
)

// TestConnectRemote: the reachability check names the URL and the remedy
// when nothing listens or the key is refused, takes the server's only
// model when none is named, and keeps a model the caller named.
func TestConnectRemote(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, err = llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: dead})
	if err == nil || !strings.Contains(err.Error(), dead+" is unreachable") || !strings.Contains(err.Error(), "ragtune serve") {
		t.Errorf("dead server: %v", err)
	}

	local := tinyLocal(t, 1)
	url := serveLocal(t, local, server.Config{})
	r, err := llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	if r.Model() != "tiny" || r.Describe() != "tiny at "+url {
		t.Errorf("model %q (%s), want the server's only model, tiny", r.Model(), r.Describe())
	}
	r, err = llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: url + "/v1", Model: "other"})
	if err != nil || r.Model() != "other" {
		t.Errorf("named model: %v, %q", err, r.Model())
	}

	keys, err := server.NewKeys("a-key-of-at-least-16-chars")
	if err != nil {
		t.Fatal(err)
	}
	locked := serveLocal(t, local, server.Config{Keys: keys})
	_, err = llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: locked, APIKey: "wrong-key-wrong-key"})
	if err == nil || !strings.Contains(err.Error(), locked+" refused") || !strings.Contains(err.Error(), "API key") {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: locked, APIKey: "a-key-of-at-least-16-chars"}); err != nil {
		t.Errorf("right key: %v", err)
	}

	// A server without /v1/models still generates; the check lets it be.
	bare := httptest.NewServer(http.NotFoundHandler())
	defer bare.Close()
	if r, err := llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: bare.URL}); err != nil || r.Model() != "" || r.Describe() != bare.URL {
		t.Errorf("no /v1/models, no model: %v", err)
	}
	if r, err := llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: bare.URL, Model: "m"}); err != nil || r.Model() != "m" {
		t.Errorf("no /v1/models: %v", err)
	}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database on fire", http.StatusInternalServerError)
	}))
	defer broken.Close()
	if _, err := llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: broken.URL}); err == nil || !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "that it is healthy") {
		t.Errorf("server error: %v", err)
	}
	if _, err := llm.ConnectRemote(ctx, llm.RemoteOptions{BaseURL: "127.0.0.1:8000"}); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Errorf("URL without scheme: %v", err)
	}
}
