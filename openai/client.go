package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client calls one OpenAI-compatible server. It makes each request once:
// no retries (a generation is not idempotent, and a caller that wants
// retries knows better when they are safe) and no timeout of its own (a
// stream lasts as long as its generation; the context bounds it).
type Client struct {
	base   string
	apiKey string
	hc     *http.Client
}

// NewClient returns a client for the server at baseURL, given with or
// without its trailing /v1 ("http://127.0.0.1:8000",
// "http://host:11434/v1"). apiKey, when set, is sent as a bearer token.
// hc nil uses http.DefaultClient.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	base := strings.TrimSuffix(strings.TrimRight(baseURL, "/"), "/v1")
	return &Client{base: base, apiKey: apiKey, hc: hc}
}

// URL is the address of an API path ("/embeddings" → base/v1/embeddings).
func (c *Client) URL(path string) string { return c.base + "/v1" + path }

// Base is the server's address without /v1.
func (c *Client) Base() string { return c.base }

// APIError is an error answer of the server: its HTTP status and what its
// body says, in OpenAI's {"error": {...}} form, Ollama's {"error": "..."}
// or plain text.
type APIError struct {
	Status  int
	Message string
	Type    string
	Code    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Status)
	if t := http.StatusText(e.Status); t != "" && e.Status != 0 {
		s += " " + t
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// ContextLengthExceeded reports a refusal of a prompt longer than the
// model's context, by OpenAI's code or vLLM's wording.
func (e *APIError) ContextLengthExceeded() bool {
	return e.Code == "context_length_exceeded" || strings.Contains(e.Message, "maximum context length")
}

// parseError reads an error body; ok is false when the body holds no
// error object.
func parseError(status int, b []byte) (e *APIError, ok bool) {
	e = &APIError{Status: status}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && len(body.Error) > 0 && string(body.Error) != "null" {
		var obj struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"` // a string from OpenAI, a number from some servers
		}
		if json.Unmarshal(body.Error, &obj) == nil {
			e.Message, e.Type = obj.Message, obj.Type
			if obj.Code != nil {
				e.Code = fmt.Sprint(obj.Code)
			}
			return e, true
		}
		if json.Unmarshal(body.Error, &e.Message) == nil {
			return e, true
		}
	}
	return e, false
}

// readError reads a failed response's body into an APIError.
func readError(resp *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e, _ := parseError(resp.StatusCode, b)
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "…"
		}
	}
	return e
}

// do sends a request and returns the response when its status is 2xx;
// otherwise the error is an *APIError.
func (c *Client) do(ctx context.Context, method, path string, body any, accept string) (*http.Response, error) {
	url := c.URL(path)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w", method, url, readError(resp))
	}
	return resp, nil
}

// getJSON makes one request and decodes a JSON answer of at most limit
// bytes into v.
func (c *Client) getJSON(ctx context.Context, method, path string, body, v any, limit int64) error {
	resp, err := c.do(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(v); err != nil {
		return fmt.Errorf("%s %s: bad response: %w", method, c.URL(path), err)
	}
	return nil
}

// Stream is the answer to a request with stream:true: server-sent events,
// or one JSON object from a server that ignored stream:true.
type Stream struct {
	resp   *http.Response
	events *EventReader
}

// StreamChat posts a chat request (stream set, include_usage asked for).
func (c *Client) StreamChat(ctx context.Context, req *ChatRequest) (*Stream, error) {
	r := *req
	r.Stream, r.StreamOptions = true, &StreamOptions{IncludeUsage: true}
	return c.stream(ctx, "/chat/completions", &r)
}

// StreamCompletion posts a completion request (stream set, include_usage
// asked for).
func (c *Client) StreamCompletion(ctx context.Context, req *CompletionRequest) (*Stream, error) {
	r := *req
	r.Stream, r.StreamOptions = true, &StreamOptions{IncludeUsage: true}
	return c.stream(ctx, "/completions", &r)
}

func (c *Client) stream(ctx context.Context, path string, body any) (*Stream, error) {
	resp, err := c.do(ctx, http.MethodPost, path, body, "text/event-stream, application/json")
	if err != nil {
		return nil, err
	}
	s := &Stream{resp: resp}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		s.events = NewEventReader(resp.Body)
	}
	return s, nil
}

// Events says the server streams; otherwise Whole reads its one answer.
func (s *Stream) Events() bool { return s.events != nil }

// Status is the HTTP status of the answer.
func (s *Stream) Status() int { return s.resp.StatusCode }

// Next decodes the next event into v (a *ChatChunk or a
// *CompletionResponse). It returns io.EOF at the stream's end, and an
// *APIError for an error event ({"error": ...}, which servers send when a
// generation fails after the stream began).
func (s *Stream) Next(v any) error {
	if s.events == nil {
		return errors.New("the server did not stream: read its answer with Whole")
	}
	data, err := s.events.Next()
	if err != nil {
		if err == io.EOF {
			return err
		}
		return fmt.Errorf("read stream: %w", err)
	}
	if bytes.Contains(data, []byte(`"error"`)) {
		if e, ok := parseError(s.resp.StatusCode, data); ok {
			return e
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("bad stream event %.200q: %w", data, err)
	}
	return nil
}

// Whole decodes the one answer of a server that did not stream (a
// *ChatResponse or a *CompletionResponse).
func (s *Stream) Whole(v any) error {
	if err := json.NewDecoder(io.LimitReader(s.resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("bad response: %w", err)
	}
	return nil
}

// Close ends the stream; closing early tells the server to stop
// generating.
func (s *Stream) Close() error { return s.resp.Body.Close() }

// Embeddings returns one vector per input from POST /v1/embeddings, in
// input order.
func (c *Client) Embeddings(ctx context.Context, model string, input []string) ([][]float32, error) {
	var r EmbeddingResponse
	req := EmbeddingRequest{Model: model, Input: input, EncodingFormat: "float"}
	if err := c.getJSON(ctx, http.MethodPost, "/embeddings", req, &r, 256<<20); err != nil {
		return nil, err
	}
	vecs, err := r.EmbeddingVectors(len(input))
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", c.URL("/embeddings"), err)
	}
	return vecs, nil
}

// Rerank returns one relevance score per document from POST /v1/rerank,
// in document order.
func (c *Client) Rerank(ctx context.Context, model, query string, docs []string) ([]float64, error) {
	var r RerankResponse
	req := RerankRequest{Model: model, Query: query, Documents: docs, TopN: len(docs)}
	if err := c.getJSON(ctx, http.MethodPost, "/rerank", req, &r, 64<<20); err != nil {
		return nil, err
	}
	scores, err := r.Scores(len(docs))
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", c.URL("/rerank"), err)
	}
	return scores, nil
}

// Models lists the model ids of GET /v1/models.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	var r ModelList
	if err := c.getJSON(ctx, http.MethodGet, "/models", nil, &r, 8<<20); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(r.Data))
	for _, m := range r.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}
