// Package openai is the OpenAI-compatible HTTP API on the wire, for both
// sides of it: the request and response types (chat completions,
// completions, embeddings, rerank, models, errors), the server-sent-event
// framing of streams, and a client for servers that speak it (vLLM,
// Ollama, llama.cpp's server, TEI, another ragtune serve). It sits low in
// the import graph and imports only the standard library, so package llm
// (the remote engine), package rag (remote embedders and rerankers) and
// package server (the API itself) share one set of types. Translating to
// and from llm's Request and Result is their business, not this package's.
//
// Decoding is lenient where OpenAI's own API is (content as a string or a
// list of text parts, stop as a string or a list) and strict where silence
// would mislead (unknown roles, n > 1, parameters out of range).
package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
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
	// KBRerank false skips the reranker the knowledge base records.
	KBRerank *bool `json:"kb_rerank,omitempty"`
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

// Finish reasons on the wire.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishContentFilter = "content_filter"
)

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
	Role             string `json:"role"`
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content,omitempty"`
	// Reasoning is vLLM's and Ollama's name for ReasoningContent; read only.
	Reasoning string  `json:"reasoning,omitempty"`
	Refusal   *string `json:"refusal"`
}

// ChatChoice is one choice of a chat response.
type ChatChoice struct {
	Index   int             `json:"index"`
	Message ResponseMessage `json:"message"`
	// Text is a completion's answer; read only, so that a client reads
	// an answer of either endpoint as one type.
	Text         string    `json:"text,omitempty"`
	FinishReason string    `json:"finish_reason"`
	Logprobs     *struct{} `json:"logprobs"`
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
	Index int   `json:"index"`
	Delta Delta `json:"delta"`
	// Text is a completion stream's increment; read only, so that a
	// client reads a stream of either endpoint as one type.
	Text         string    `json:"text,omitempty"`
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

// Embedding is one vector.
type Embedding struct {
	Object    string `json:"object"` // embedding
	Index     int    `json:"index"`
	Embedding Vector `json:"embedding"`
}

// Vector is an embedding on the wire: a list of numbers, or with
// encoding_format "base64" a base64 string of little-endian float32s (as
// OpenAI sends it, a quarter of the text a list takes).
type Vector struct {
	Floats []float32
	// Base64 writes the vector as base64; reading accepts either form.
	Base64 bool
}

// MarshalJSON writes the list, or the base64 string.
func (v Vector) MarshalJSON() ([]byte, error) {
	if !v.Base64 {
		return json.Marshal(v.Floats)
	}
	b := make([]byte, 4*len(v.Floats))
	for i, x := range v.Floats {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON reads [0.1, …] or "base64…".
func (v *Vector) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '"' {
		v.Base64 = false
		return json.Unmarshal(b, &v.Floats)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("base64 embedding: %w", err)
	}
	if len(raw)%4 != 0 {
		return fmt.Errorf("base64 embedding of %d bytes is not a list of float32s", len(raw))
	}
	v.Floats, v.Base64 = make([]float32, len(raw)/4), true
	for i := range v.Floats {
		v.Floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return nil
}

// EmbeddingResponse is the embeddings result.
type EmbeddingResponse struct {
	Object string      `json:"object"` // list
	Data   []Embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  Usage       `json:"usage"`
}

// EmbeddingVectors reads a response to n inputs back in input order (for
// clients): exactly one non-empty vector per input, whatever order the
// server listed them in.
func (r *EmbeddingResponse) EmbeddingVectors(n int) ([][]float32, error) {
	if len(r.Data) != n {
		return nil, fmt.Errorf("%d vectors for %d inputs", len(r.Data), n)
	}
	out := make([][]float32, n)
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= n {
			return nil, fmt.Errorf("embedding index %d out of range for %d inputs", d.Index, n)
		}
		if out[d.Index] != nil {
			return nil, fmt.Errorf("two embeddings for input %d", d.Index)
		}
		if len(d.Embedding.Floats) == 0 {
			return nil, fmt.Errorf("empty embedding for input %d", d.Index)
		}
		out[d.Index] = d.Embedding.Floats
	}
	return out, nil
}

// RerankRequest is POST /v1/rerank in the Jina/Cohere form that
// llama.cpp's server, TEI and Xinference accept.
type RerankRequest struct {
	Model     string   `json:"model,omitempty"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      int      `json:"top_n"`
	// ReturnDocuments asks for each result's text back (Jina/Cohere).
	ReturnDocuments bool `json:"return_documents,omitempty"`
}

// RerankResult scores one document, named by its index in the request.
type RerankResult struct {
	Index          int             `json:"index"`
	RelevanceScore *float64        `json:"relevance_score"`
	Document       *RerankDocument `json:"document,omitempty"`
}

// RerankDocument is a result's text, sent back on return_documents.
type RerankDocument struct {
	Text string `json:"text"`
}

// RerankResponse is the rerank result.
type RerankResponse struct {
	Model   string         `json:"model,omitempty"`
	Results []RerankResult `json:"results"`
}

// Scores reads a response to n documents back in document order: exactly
// one finite score per document. A server that caps top_n below n leaves
// documents out, which is an error here rather than a score of zero.
func (r *RerankResponse) Scores(n int) ([]float64, error) {
	scores := make([]float64, n)
	got := make([]bool, n)
	for _, x := range r.Results {
		if x.Index < 0 || x.Index >= n || got[x.Index] || x.RelevanceScore == nil || math.IsNaN(*x.RelevanceScore) {
			return nil, fmt.Errorf("bad result for document index %d", x.Index)
		}
		scores[x.Index], got[x.Index] = *x.RelevanceScore, true
	}
	for i, ok := range got {
		if !ok {
			return nil, fmt.Errorf("no score for document %d of %d (the server may cap top_n)", i, n)
		}
	}
	return scores, nil
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
