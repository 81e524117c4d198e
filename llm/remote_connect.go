package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"ragtune/openai"
)

// connectTimeout bounds the reachability check: a server that does not
// list its models within it would not answer a question either.
const connectTimeout = 15 * time.Second

// ConnectRemote is NewRemote for a command that is about to generate: it
// asks the server for its models (GET /v1/models) first, so a wrong URL, a
// server that is down or a refused key fails at once, naming the URL and
// what to do, instead of after the work before the first generation. When
// opts.Model is empty and the server offers exactly one model, that model
// is used (vLLM refuses requests that name none). A server without
// /v1/models (404) is taken as reachable; any other error answer fails.
func ConnectRemote(ctx context.Context, opts RemoteOptions) (*Remote, error) {
	r, err := NewRemote(opts)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	ids, err := r.client.Models(cctx)
	var ae *openai.APIError
	switch {
	case errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden):
		return nil, fmt.Errorf("remote backend %s refused the request (%w): give it a valid API key", opts.BaseURL, err)
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return r, nil
	case errors.As(err, &ae):
		return nil, fmt.Errorf("remote backend %s: %w; check that the URL names an OpenAI-compatible server and that it is healthy", opts.BaseURL, err)
	case err != nil:
		return nil, fmt.Errorf("remote backend %s is unreachable: %w; start an OpenAI-compatible server there (for example 'ragtune serve --model DIR --addr HOST:PORT'), or give the URL of a running one", opts.BaseURL, err)
	}
	if r.opts.Model == "" && len(ids) == 1 {
		r.opts.Model = ids[0]
	}
	return r, nil
}

// Model is the model name sent with each request ("" when the server
// chooses).
func (r *Remote) Model() string { return r.opts.Model }

// Describe names the server's model and where it runs ("deepseek-r1 at
// http://gpu-box:8000"), or only the URL when no model is named: what a
// report says answered.
func (r *Remote) Describe() string {
	if r.opts.Model == "" {
		return r.opts.BaseURL
	}
	return r.opts.Model + " at " + r.opts.BaseURL
}
