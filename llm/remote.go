package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// RemoteOptions configure a Remote engine.
type RemoteOptions struct {
	// BaseURL of an OpenAI-compatible server, with or without the
	// trailing /v1 ("http://127.0.0.1:8000", "http://host:11434/v1").
	BaseURL string
	// Model is the model name sent with each request.
	Model string
	// EmbedModel is the model name for Embed; empty uses Model.
	EmbedModel string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Client makes the requests; nil uses a client without a timeout
	// (streams last as long as generations; ctx bounds them).
	Client *http.Client
	// Sampling is the default for requests without their own; nil leaves
	// the parameters to the server.
	Sampling *Sampling
	// StartInReasoning says the server's chat template opens the
	// reasoning block in the prompt (DeepSeek-R1's ends with "<think>\n")
	// and the server returns the reasoning inline in content without a
	// reasoning parser: text before "</think>" is then reasoning. Servers
	// that split reasoning (reasoning_content, vLLM's reasoning, ragtune
	// serve) need nothing.
	StartInReasoning bool
}

// Remote is an Engine over an OpenAI-compatible HTTP server (vLLM, Ollama,
// llama.cpp's server, another ragtune serve). Chat requests go to
// /v1/chat/completions and raw prompts to /v1/completions, both streamed;
// the server's deltas go through the same reasoning and stop-string
// handling as the local engine's tokens, so callers cannot tell the two
// apart except by Token.ID, which is -1 (the server sends text, not ids).
type Remote struct {
	base string
	opts RemoteOptions
	hc   *http.Client
}

// NewRemote returns an engine for the server at opts.BaseURL.
func NewRemote(opts RemoteOptions) (*Remote, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("remote backend %q: the URL must start with http:// or https://", opts.BaseURL)
	}
	base = strings.TrimSuffix(base, "/v1")
	hc := opts.Client
	if hc == nil {
		hc = &http.Client{}
	}
	return &Remote{base: base, opts: opts, hc: hc}, nil
}

// RemoteError is an error answer of the server.
type RemoteError struct {
	Status  int
	Message string
	Type    string
	Code    string
}

func (e *RemoteError) Error() string {
	s := fmt.Sprintf("remote backend: HTTP %d", e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is lets errors.Is(err, ErrContextLength) see a server's context-length
// refusal.
func (e *RemoteError) Is(target error) bool {
	return target == ErrContextLength && (e.Code == "context_length_exceeded" ||
		strings.Contains(e.Message, "maximum context length"))
}

// wire types of the requests and stream chunks, kept private: package
// server/openai has the full API and imports llm, so llm cannot import it.
type remoteMessage struct {
	Role             string `json:"role"`
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content,omitempty"`
}

type remoteRequest struct {
	Model             string          `json:"model"`
	Messages          []remoteMessage `json:"messages,omitempty"`
	Prompt            any             `json:"prompt,omitempty"`
	Stream            bool            `json:"stream"`
	StreamOptions     map[string]bool `json:"stream_options,omitempty"`
	MaxTokens         int             `json:"max_tokens,omitempty"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	TopK              *int            `json:"top_k,omitempty"`
	MinP              *float64        `json:"min_p,omitempty"`
	RepetitionPenalty *float64        `json:"repetition_penalty,omitempty"`
	FrequencyPenalty  *float64        `json:"frequency_penalty,omitempty"`
	PresencePenalty   *float64        `json:"presence_penalty,omitempty"`
	Seed              *int64          `json:"seed,omitempty"`
	ChatTemplateKw    map[string]any  `json:"chat_template_kwargs,omitempty"`
}

type remoteChunk struct {
	Choices []struct {
		Text  string `json:"text"` // completions
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func (r *Remote) body(req Request) (path string, rr remoteRequest, err error) {
	rr = remoteRequest{Model: r.opts.Model, Stream: true, StreamOptions: map[string]bool{"include_usage": true}, MaxTokens: req.MaxTokens}
	switch {
	case len(req.Messages) > 0:
		path = "/v1/chat/completions"
		for _, m := range req.Messages {
			rr.Messages = append(rr.Messages, remoteMessage{Role: m.Role, Content: m.Content, ReasoningContent: m.ReasoningContent})
		}
		if req.DisableThinking {
			rr.ChatTemplateKw = map[string]any{"enable_thinking": false}
		}
	case req.Prompt != "":
		path, rr.Prompt = "/v1/completions", req.Prompt
	case len(req.PromptTokens) > 0:
		path, rr.Prompt = "/v1/completions", req.PromptTokens
	}
	if err := req.validate(); err != nil {
		return "", rr, err
	}
	p := r.opts.Sampling
	if req.Sampling != nil {
		p = req.Sampling
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			return "", rr, err
		}
		t := p.Temperature
		rr.Temperature = &t
		if p.TopP > 0 && p.TopP < 1 {
			rr.TopP = &p.TopP
		}
		if p.TopK > 0 {
			rr.TopK = &p.TopK
		}
		if p.MinP > 0 {
			rr.MinP = &p.MinP
		}
		if p.RepetitionPenalty > 0 && p.RepetitionPenalty != 1 {
			rr.RepetitionPenalty = &p.RepetitionPenalty
		}
		if p.FrequencyPenalty != 0 {
			rr.FrequencyPenalty = &p.FrequencyPenalty
		}
		if p.PresencePenalty != 0 {
			rr.PresencePenalty = &p.PresencePenalty
		}
		if p.Seed >= 0 {
			rr.Seed = &p.Seed
		}
	}
	return path, rr, nil
}

func (r *Remote) post(ctx context.Context, path string, v any) (*http.Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("remote backend: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream, application/json")
	if r.opts.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+r.opts.APIKey)
	}
	resp, err := r.hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("remote backend %s: %w", r.base, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readRemoteError(resp)
	}
	return resp, nil
}

func readRemoteError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &RemoteError{Status: resp.StatusCode}
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && len(body.Error) > 0 {
		var obj struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    any     `json:"code"`
			Param   *string `json:"param"`
		}
		if json.Unmarshal(body.Error, &obj) == nil {
			e.Message, e.Type = obj.Message, obj.Type
			if obj.Code != nil {
				e.Code = fmt.Sprint(obj.Code)
			}
		} else {
			json.Unmarshal(body.Error, &e.Message) // Ollama: {"error": "text"}
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300] + "…"
		}
	}
	return e
}

// Generate implements Engine.
func (r *Remote) Generate(ctx context.Context, req Request, onToken func(Token) error) (*Result, error) {
	path, rr, err := r.body(req)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	resp, err := r.post(ctx, path, rr)
	if err != nil {
		if ctx.Err() != nil {
			return &Result{FinishReason: FinishCancelled}, ctx.Err()
		}
		return nil, err
	}
	// Closing the body ends the stream, which tells the server to stop.
	defer resp.Body.Close()

	start := phaseStart
	if r.opts.StartInReasoning && path == "/v1/chat/completions" && !req.DisableThinking {
		start = phaseThink
	}
	out := newOutput(start, req.Stop, onToken)
	res := &Result{}
	var first time.Time
	reasoningLead := true // drop whitespace before separate reasoning, as the splitter does
	finish := func(reason FinishReason, err error) (*Result, error) {
		if err == nil {
			err = out.finish()
		}
		res.FinishReason = reason
		if out.stopped && reason != FinishCancelled {
			res.FinishReason = FinishStop
		}
		switch {
		case errors.Is(err, ErrStop):
			res.FinishReason, err = FinishStop, nil
		case err != nil && reason != FinishCancelled:
			res.FinishReason = FinishError
		}
		res.Text, res.Reasoning = out.answer.String(), out.reasoning.String()
		res.ThinkingUnclosed = out.unclosed()
		if !first.IsZero() {
			res.PrefillTime = first.Sub(t0)
			res.DecodeTime = time.Since(first)
		} else {
			res.PrefillTime = time.Since(t0)
		}
		return res, err
	}

	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A server that ignores stream:true answers with one object.
		return finish(r.whole(resp.Body, out, res))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var reason FinishReason
	contentSeen := false
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue // comments, event names, blank separators
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			break
		}
		var c remoteChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return finish(FinishError, fmt.Errorf("remote backend: bad stream event %.200q: %w", data, err))
		}
		if c.Error != nil {
			e := &RemoteError{Status: resp.StatusCode, Message: c.Error.Message, Type: c.Error.Type}
			if c.Error.Code != nil {
				e.Code = *c.Error.Code
			}
			return finish(FinishError, e)
		}
		if c.Usage != nil {
			res.PromptTokens, res.CompletionTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
			if d := c.Usage.PromptTokensDetails; d != nil {
				res.CachedTokens = d.CachedTokens
			}
		}
		for _, ch := range c.Choices {
			think := ch.Delta.ReasoningContent + ch.Delta.Reasoning
			text := ch.Delta.Content + ch.Text
			if (think != "" || text != "") && first.IsZero() {
				first = time.Now()
			}
			if think != "" {
				if !contentSeen && out.think.phase == phaseThink {
					// The server splits reasoning itself: its content is
					// the answer, whatever StartInReasoning assumed.
					out.think.phase = phaseStart
				}
				if reasoningLead {
					think = strings.TrimLeft(think, " \t\r\n")
					reasoningLead = think == ""
				}
				if err := out.emit(-1, think, ""); err != nil {
					return finish(FinishError, err)
				}
			}
			if text != "" {
				contentSeen = true
				if err := out.push(-1, text); err != nil {
					return finish(FinishError, err)
				}
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				reason = remoteFinish(*ch.FinishReason)
			}
			if out.stopped {
				return finish(FinishStop, nil)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return finish(FinishCancelled, ctx.Err())
		}
		return finish(FinishError, fmt.Errorf("remote backend: read stream: %w", err))
	}
	if ctx.Err() != nil {
		return finish(FinishCancelled, ctx.Err())
	}
	if reason == "" {
		reason = FinishEOS
	}
	return finish(reason, nil)
}

// whole reads a non-streamed answer.
func (r *Remote) whole(body io.Reader, out *output, res *Result) (FinishReason, error) {
	var v struct {
		Choices []struct {
			Text    string `json:"text"`
			Message struct {
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
				Reasoning        string `json:"reasoning"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 64<<20)).Decode(&v); err != nil {
		return FinishError, fmt.Errorf("remote backend: bad response: %w", err)
	}
	if len(v.Choices) == 0 {
		return FinishError, errors.New("remote backend: response without choices")
	}
	res.PromptTokens, res.CompletionTokens = v.Usage.PromptTokens, v.Usage.CompletionTokens
	c := v.Choices[0]
	if t := strings.TrimSpace(c.Message.ReasoningContent + c.Message.Reasoning); t != "" {
		if err := out.emit(-1, t, ""); err != nil {
			return FinishError, err
		}
	}
	if err := out.push(-1, c.Message.Content+c.Text); err != nil {
		return FinishError, err
	}
	return remoteFinish(c.FinishReason), nil
}

// remoteFinish maps a server's finish_reason: "stop" there means the model
// ended (our stop strings are matched here, not sent).
func remoteFinish(s string) FinishReason {
	switch s {
	case "length":
		return FinishLength
	case "content_filter":
		return FinishStop
	}
	return FinishEOS
}

// Embed returns one vector per text from the server's /v1/embeddings; its
// signature is rag.Embedder's, so r.Embed plugs into a knowledge base.
func (r *Remote) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	model := r.opts.EmbedModel
	if model == "" {
		model = r.opts.Model
	}
	req := struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}{model, texts}
	resp, err := r.post(ctx, "/v1/embeddings", req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("remote embeddings: bad response: %w", err)
	}
	out := make([][]float32, len(texts))
	for _, d := range v.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return nil, fmt.Errorf("remote embeddings: index %d out of range for %d inputs", d.Index, len(texts))
		}
		out[d.Index] = d.Embedding
	}
	for i, e := range out {
		if e == nil {
			return nil, fmt.Errorf("remote embeddings: no vector for input %d", i)
		}
	}
	return out, nil
}

// Models lists the model ids the server offers.
func (r *Remote) Models(ctx context.Context) ([]string, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	if r.opts.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+r.opts.APIKey)
	}
	resp, err := r.hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("remote backend %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readRemoteError(resp)
	}
	var v struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&v); err != nil {
		return nil, fmt.Errorf("remote models: %w", err)
	}
	var ids []string
	for _, d := range v.Data {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// DefaultSampling is what requests without Sampling get: the options'
// Sampling, else OpenAI's default (temperature 1, fresh seed); requests
// without Sampling leave the choice to the server.
func (r *Remote) DefaultSampling() Sampling {
	if r.opts.Sampling != nil {
		return *r.opts.Sampling
	}
	return Sampling{Temperature: 1, Seed: -1}
}
