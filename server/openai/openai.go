// Package openai holds the wire types of the OpenAI-compatible HTTP API that
// ragtune serve speaks and llm.Remote consumes, and the converters between
// them and package llm's Request and Result. It is a pure translation layer:
// no HTTP, no engine calls, no policy. Decoding is lenient where OpenAI's
// own API is (content as a string or a list of text parts, stop as a string
// or a list) and strict where silence would mislead (unknown roles, n > 1,
// parameters out of range).
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"ragtune/llm"
)

// Error is the body of every failed request: {"error": {...}}.
type Error struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorResponse wraps Error as OpenAI does.
type ErrorResponse struct {
	Error Error `json:"error"`
}

// Error types as OpenAI names them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeUnavailable    = "service_unavailable_error"
)

// NewError builds an error body; empty param and code are sent as null.
func NewError(typ, message, param, code string) ErrorResponse {
	e := Error{Message: message, Type: typ}
	if param != "" {
		e.Param = &param
	}
	if code != "" {
		e.Code = &code
	}
	return ErrorResponse{Error: e}
}

// RequestError is a request the API rejects, with the parameter at fault.
type RequestError struct {
	Param   string
	Message string
	Code    string
}

func (e *RequestError) Error() string {
	if e.Param != "" {
		return e.Param + ": " + e.Message
	}
	return e.Message
}

func badParam(param, format string, args ...any) error {
	return &RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// Content is a message's content: OpenAI accepts a string or a list of
// parts; only text parts mean something to a text model.
type Content string

// UnmarshalJSON accepts "text", null, or [{"type":"text","text":"…"}, …].
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Content(s)
		return nil
	case b[0] == '[':
		var parts []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &parts); err != nil {
			return fmt.Errorf("content parts: %w", err)
		}
		var sb strings.Builder
		for i, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return fmt.Errorf("content part %d has type %q: only text parts are supported", i, p.Type)
			}
			sb.WriteString(*p.Text)
		}
		*c = Content(sb.String())
		return nil
	}
	return errors.New("content must be a string or a list of text parts")
}

// StringList is a string or a list of strings (stop, input).
type StringList []string

// UnmarshalJSON accepts null, "s" or ["a", "b"].
func (l *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*l = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("must be a string or a list of strings")
	}
	*l = ss
	return nil
}

// Prompt is a completion prompt: a string, or a list of token ids.
// (OpenAI also takes lists of prompts; one generation per request is what
// ragtune serves, so a list of one string is accepted and longer lists are
// refused.)
type Prompt struct {
	Text   string
	Tokens []int
}

// UnmarshalJSON accepts "text", ["text"] or [1, 2, 3].
func (p *Prompt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*p = Prompt{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &p.Text)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errors.New("prompt must be a string or a list of token ids")
	}
	if len(raw) == 0 {
		return errors.New("prompt is empty")
	}
	if t := bytes.TrimSpace(raw[0]); len(t) > 0 && t[0] == '"' {
		if len(raw) != 1 {
			return errors.New("only one prompt per request is supported")
		}
		return json.Unmarshal(raw[0], &p.Text)
	}
	if err := json.Unmarshal(b, &p.Tokens); err != nil {
		return errors.New("prompt must be a string or a list of token ids")
	}
	return nil
}

// MarshalJSON writes the text, or the token list.
func (p Prompt) MarshalJSON() ([]byte, error) {
	if p.Tokens != nil {
		return json.Marshal(p.Tokens)
	}
	return json.Marshal(p.Text)
}

// Message is one chat turn on the wire.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
	// ReasoningContent is DeepSeek's field for an assistant's reasoning.
	ReasoningContent string `json:"reasoning_content,omitempty"`
	Name             string `json:"name,omitempty"`
}

// StreamOptions is stream_options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// SamplingParams are the generation parameters chat and completion
// requests share; vLLM's extensions (top_k, min_p, repetition_penalty) are
// accepted too.
type SamplingParams struct {
	MaxTokens           *int       `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int       `json:"max_completion_tokens,omitempty"`
	Temperature         *float64   `json:"temperature,omitempty"`
	TopP                *float64   `json:"top_p,omitempty"`
	TopK                *int       `json:"top_k,omitempty"`
	MinP                *float64   `json:"min_p,omitempty"`
	RepetitionPenalty   *float64   `json:"repetition_penalty,omitempty"`
	FrequencyPenalty    *float64   `json:"frequency_penalty,omitempty"`
	PresencePenalty     *float64   `json:"presence_penalty,omitempty"`
	Seed                *int64     `json:"seed,omitempty"`
	Stop                StringList `json:"stop,omitempty"`
	N                   *int       `json:"n,omitempty"`
}

// ChatTemplateKwargs is vLLM's chat_template_kwargs; enable_thinking=false
// maps to llm.Request.DisableThinking.
type ChatTemplateKwargs struct {
	EnableThinking *bool `json:"enable_thinking,omitempty"`
}

// ChatRequest is POST /v1/chat/completions.
type ChatRequest struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	SamplingParams
	Stream             bool                `json:"stream,omitempty"`
	StreamOptions      *StreamOptions      `json:"stream_options,omitempty"`
	ChatTemplateKwargs *ChatTemplateKwargs `json:"chat_template_kwargs,omitempty"`
	User               string              `json:"user,omitempty"`

	// KB names a knowledge base to answer from (ragtune's extension; the
	// model name "rag:<kb>" does the same).
	KB string `json:"kb,omitempty"`
	// TopKChunks is how many chunks to retrieve (default 4).
	TopKChunks int `json:"kb_top_k,omitempty"`
	// KBMode is bm25, dense or hybrid (default bm25).
	KBMode string `json:"kb_mode,omitempty"`
}

// CompletionRequest is POST /v1/completions.
type CompletionRequest struct {
	Model  string `json:"model"`
	Prompt Prompt `json:"prompt"`
	SamplingParams
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
	Echo          bool           `json:"echo,omitempty"`
	User          string         `json:"user,omitempty"`
}

// Decode parses a JSON request body strictly enough to reject garbage and
// leniently enough for real clients: unknown fields are ignored (SDKs send
// parameters we do not implement, such as logit_bias), but the body must be
// one valid UTF-8 JSON object.
func Decode(body []byte, v any) error {
	if !utf8.Valid(body) {
		return &RequestError{Message: "request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Fields of the embedded SamplingParams carry its name.
			param := strings.TrimPrefix(te.Field, "SamplingParams.")
			return &RequestError{Param: param, Message: fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)}
		}
		return &RequestError{Message: "invalid JSON body: " + err.Error()}
	}
	if dec.More() {
		return &RequestError{Message: "invalid JSON body: data after the object"}
	}
	return nil
}

// ToLLM converts the sampling parameters; defaults fills what the request
// leaves unset (the engine's generation_config.json values).
func (p SamplingParams) ToLLM(defaults llm.Sampling, req *llm.Request) error {
	if p.N != nil && *p.N != 1 {
		return badParam("n", "only n=1 is supported")
	}
	maxTok := p.MaxTokens
	if p.MaxCompletionTokens != nil {
		maxTok = p.MaxCompletionTokens
	}
	if maxTok != nil {
		if *maxTok < 0 {
			return badParam("max_tokens", "must be >= 0, got %d", *maxTok)
		}
		req.MaxTokens = *maxTok
	}
	s := defaults
	set := func(dst *float64, v *float64, name string, lo, hi float64) error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || *v < lo || *v > hi {
			return badParam(name, "must be between %g and %g, got %g", lo, hi, *v)
		}
		*dst = *v
		return nil
	}
	if err := set(&s.Temperature, p.Temperature, "temperature", 0, 2); err != nil {
		return err
	}
	if err := set(&s.TopP, p.TopP, "top_p", 0, 1); err != nil {
		return err
	}
	if err := set(&s.MinP, p.MinP, "min_p", 0, 1); err != nil {
		return err
	}
	if err := set(&s.RepetitionPenalty, p.RepetitionPenalty, "repetition_penalty", 0, 10); err != nil {
		return err
	}
	if err := set(&s.FrequencyPenalty, p.FrequencyPenalty, "frequency_penalty", -2, 2); err != nil {
		return err
	}
	if err := set(&s.PresencePenalty, p.PresencePenalty, "presence_penalty", -2, 2); err != nil {
		return err
	}
	if p.TopK != nil {
		if *p.TopK < -1 {
			return badParam("top_k", "must be >= -1, got %d", *p.TopK)
		}
		s.TopK = max(*p.TopK, 0) // vLLM's -1 means off, as 0 does here
	}
	if p.Seed != nil {
		s.Seed = *p.Seed
	}
	if err := s.Validate(); err != nil {
		return &RequestError{Message: err.Error()}
	}
	if len(p.Stop) > 4 {
		return badParam("stop", "at most 4 stop strings, got %d", len(p.Stop))
	}
	req.Sampling = &s
	req.Stop = p.Stop
	return nil
}

// Roles a chat request may use.
var roles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true}

// ToLLM converts a chat request. The developer role (OpenAI's newer name
// for system) is rendered as system.
func (r *ChatRequest) ToLLM(defaults llm.Sampling) (llm.Request, error) {
	var req llm.Request
	if len(r.Messages) == 0 {
		return req, badParam("messages", "at least one message is required")
	}
	for i, m := range r.Messages {
		if !roles[m.Role] {
			return req, badParam(fmt.Sprintf("messages[%d].role", i), "unsupported role %q (use system, user or assistant)", m.Role)
		}
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		req.Messages = append(req.Messages, llm.Message{Role: role, Content: string(m.Content), ReasoningContent: m.ReasoningContent})
	}
	if err := r.SamplingParams.ToLLM(defaults, &req); err != nil {
		return req, err
	}
	if k := r.ChatTemplateKwargs; k != nil && k.EnableThinking != nil && !*k.EnableThinking {
		req.DisableThinking = true
	}
	return req, nil
}

// ToLLM converts a completion request.
func (r *CompletionRequest) ToLLM(defaults llm.Sampling) (llm.Request, error) {
	var req llm.Request
	switch {
	case r.Prompt.Tokens != nil:
		req.PromptTokens = r.Prompt.Tokens
	case r.Prompt.Text != "":
		req.Prompt = r.Prompt.Text
	default:
		return req, badParam("prompt", "a non-empty prompt is required")
	}
	if r.Echo {
		return req, badParam("echo", "echo is not supported")
	}
	return req, r.SamplingParams.ToLLM(defaults, &req)
}

// Usage counts tokens.
type Usage struct {
	PromptTokens        int           `json:"prompt_tokens"`
	CompletionTokens    int           `json:"completion_tokens"`
	TotalTokens         int           `json:"total_tokens"`
	PromptTokensDetails *TokenDetails `json:"prompt_tokens_details,omitempty"`
}

// TokenDetails is prompt_tokens_details.
type TokenDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// UsageFrom reads a Result's counts.
func UsageFrom(r *llm.Result) *Usage {
	if r == nil {
		return &Usage{}
	}
	return &Usage{PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		TotalTokens:         r.PromptTokens + r.CompletionTokens,
		PromptTokensDetails: &TokenDetails{CachedTokens: r.CachedTokens}}
}

// Finish reasons on the wire.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishContentFilter = "content_filter"
)

// FinishReasonFrom maps llm's reasons onto OpenAI's: an end-of-sequence
// token and a stop string are both "stop".
func FinishReasonFrom(f llm.FinishReason) string {
	if f == llm.FinishLength {
		return FinishLength
	}
	return FinishStop
}

// FinishReasonToLLM maps a server's finish_reason back: "stop" from a
// server is its end of sequence (our own stop strings are matched here).
func FinishReasonToLLM(s string) llm.FinishReason {
	switch s {
	case FinishLength:
		return llm.FinishLength
	case "":
		return ""
	}
	return llm.FinishEOS
}

// Citation is one retrieved chunk an answer was given from (ragtune's
// extension of the chat response, also sent in the first stream chunk).
type Citation struct {
	Index      int      `json:"index"` // [n] in the prompt and the answer
	KB         string   `json:"kb"`
	ChunkID    string   `json:"chunk_id"`
	DocumentID string   `json:"document_id"`
	Source     string   `json:"source"` // the document's display name
	Title      string   `json:"title,omitempty"`
	Headings   []string `json:"headings,omitempty"`
	CharStart  int      `json:"char_start"`
	CharEnd    int      `json:"char_end"`
	Score      float64  `json:"score"`
	Text       string   `json:"text"`
	Cited      bool     `json:"cited"` // the answer refers to [Index]
}

// ResponseMessage is the assistant message of a chat response.
type ResponseMessage struct {
	Role             string  `json:"role"`
	Content          string  `json:"content"`
	ReasoningContent string  `json:"reasoning_content,omitempty"`
	Refusal          *string `json:"refusal"`
}

// ChatChoice is one choice of a chat response.
type ChatChoice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     *struct{}       `json:"logprobs"`
}

// ChatResponse is a non-streaming chat completion.
type ChatResponse struct {
	ID        string       `json:"id"`
	Object    string       `json:"object"` // chat.completion
	Created   int64        `json:"created"`
	Model     string       `json:"model"`
	Choices   []ChatChoice `json:"choices"`
	Usage     *Usage       `json:"usage"`
	Citations []Citation   `json:"citations,omitempty"`
}

// Delta is the incremental message of a stream chunk.
type Delta struct {
	Role             string `json:"role,omitempty"`
	Content          string `json:"content,omitempty"`
	ReasoningContent string `json:"reasoning_content,omitempty"`
	// Reasoning is vLLM's and Ollama's name for the same thing; read only.
	Reasoning string `json:"reasoning,omitempty"`
}

// ChunkChoice is one choice of a stream chunk.
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        Delta     `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// ChatChunk is one server-sent event of a streaming chat completion.
type ChatChunk struct {
	ID        string        `json:"id"`
	Object    string        `json:"object"` // chat.completion.chunk
	Created   int64         `json:"created"`
	Model     string        `json:"model"`
	Choices   []ChunkChoice `json:"choices"`
	Usage     *Usage        `json:"usage,omitempty"`
	Citations []Citation    `json:"citations,omitempty"`
}

// ChatResponseFrom builds the non-streaming response for a result.
func ChatResponseFrom(id, model string, created int64, r *llm.Result, finish string) ChatResponse {
	msg := ResponseMessage{Role: "assistant"}
	if r != nil {
		msg.Content, msg.ReasoningContent = r.Text, r.Reasoning
	}
	return ChatResponse{ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []ChatChoice{{Index: 0, Message: msg, FinishReason: finish}}, Usage: UsageFrom(r)}
}

// CompletionChoice is one choice of a completion.
type CompletionChoice struct {
	Index        int       `json:"index"`
	Text         string    `json:"text"`
	FinishReason *string   `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
}

// CompletionResponse is a completion, or one chunk of a streamed one.
type CompletionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"` // text_completion
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   *Usage             `json:"usage,omitempty"`
}

// EmbeddingRequest is POST /v1/embeddings. Input is a string or a list of
// strings; token-id input is refused (the embedder has its own vocabulary).
type EmbeddingRequest struct {
	Model          string     `json:"model"`
	Input          StringList `json:"input"`
	EncodingFormat string     `json:"encoding_format,omitempty"`
	Dimensions     *int       `json:"dimensions,omitempty"`
	User           string     `json:"user,omitempty"`
}

// Embedding is one vector. Embedding holds []float32, or a base64 string
// when encoding_format is "base64".
type Embedding struct {
	Object    string `json:"object"` // embedding
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

// EmbeddingResponse is the embeddings result.
type EmbeddingResponse struct {
	Object string      `json:"object"` // list
	Data   []Embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  Usage       `json:"usage"`
}

// EmbeddingVectors reads a response's vectors back in input order (for
// clients); base64 data is little-endian float32 as OpenAI sends it.
func (r *EmbeddingResponse) EmbeddingVectors(n int) ([][]float32, error) {
	out := make([][]float32, n)
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= n {
			return nil, fmt.Errorf("embedding index %d out of range for %d inputs", d.Index, n)
		}
		raw, err := json.Marshal(d.Embedding)
		if err != nil {
			return nil, err
		}
		var v []float32
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("embedding %d: %w", d.Index, err)
		}
		out[d.Index] = v
	}
	for i, v := range out {
		if v == nil {
			return nil, fmt.Errorf("no embedding for input %d", i)
		}
	}
	return out, nil
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // model
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is GET /v1/models.
type ModelList struct {
	Object string  `json:"object"` // list
	Data   []Model `json:"data"`
}
