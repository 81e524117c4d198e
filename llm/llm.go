package llm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ragtune/internal/plural"
)

// Engine generates text. Generate is the only generation loop in ragtune:
// the CLI, eval, rag and the server all call it, whether the model runs in
// this process (Local) or behind an OpenAI-compatible server.
//
// onToken receives the output as it is produced, reasoning and answer
// apart; it may be nil. Returning ErrStop from onToken ends the generation
// normally (FinishReason "stop"); any other error ends it and is returned.
//
// When ctx is cancelled, Generate returns promptly with the partial Result
// (FinishReason "cancelled") together with ctx's error, so a caller may
// still show what was produced. A request that cannot start (invalid, or
// a prompt longer than the context) gets a nil Result and the error.
//
// Implementations must be safe for concurrent calls. An engine backed by
// an OpenAI-compatible server belongs in this package too, feeding the
// server's deltas through the same reasoning/stop handling (output.go).
type Engine interface {
	Generate(ctx context.Context, req Request, onToken func(Token) error) (*Result, error)
}

// Request is one generation. Exactly one of Messages, Prompt and
// PromptTokens must be set.
type Request struct {
	// Messages are rendered through the model's chat template with the
	// generation prompt appended.
	Messages []Message `json:"messages,omitempty"`
	// Prompt is raw text, tokenized as is (with BOS when the tokenizer's
	// configuration asks for it) and continued: no chat template.
	Prompt string `json:"prompt,omitempty"`
	// PromptTokens are token ids fed to the model as they are.
	PromptTokens []int `json:"prompt_tokens,omitempty"`

	// MaxTokens caps the generated tokens (reasoning included); 0 means
	// until EOS, a stop string, or the end of the context.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Sampling replaces the engine's defaults (for a local model, those of
	// its generation_config.json) when not nil.
	Sampling *Sampling `json:"sampling,omitempty"`
	// Stop strings end the answer; the stop string itself is not returned.
	// They are matched in the answer only, never inside the reasoning,
	// where a reasoning model writes almost any short string on its way.
	Stop []string `json:"stop,omitempty"`
	// DisableThinking asks a reasoning model to answer directly. For a chat
	// template whose generation prompt opens the reasoning (DeepSeek-R1's
	// ends with "<think>\n"), the empty block "<think>\n\n</think>\n\n" is
	// prefilled, the same switch Qwen3's enable_thinking=false renders; the
	// model then starts in the answer. For other templates it changes
	// nothing.
	DisableThinking bool `json:"disable_thinking,omitempty"`
}

// Token is one piece of streamed output: the text that became complete
// with token ID (-1 for text released when the generation ends). Pieces
// are never empty; a token that completes no text (half of a multi-byte
// character, a reasoning marker, text that may be the start of a stop
// string) produces no Token at that moment. Whether reasoning is shown,
// hidden or styled is the caller's choice (ragtune run --show-think).
type Token struct {
	ID        int    `json:"id"`
	Text      string `json:"text"`
	Reasoning bool   `json:"reasoning,omitempty"` // inside <think>…</think>
}

// FinishReason says why a generation ended.
type FinishReason string

const (
	FinishStop      FinishReason = "stop"      // a stop string, or onToken returned ErrStop
	FinishLength    FinishReason = "length"    // MaxTokens reached, or the context is full
	FinishEOS       FinishReason = "eos"       // the model produced an end-of-sequence token
	FinishCancelled FinishReason = "cancelled" // ctx was cancelled
	FinishError     FinishReason = "error"     // the model or onToken failed
)

// Result is a finished (or interrupted) generation.
type Result struct {
	// Text is the answer; it is empty when the generation ended inside
	// the reasoning (EOS or max tokens before </think>).
	Text         string       `json:"text"`
	Reasoning    string       `json:"reasoning,omitempty"` // the reasoning, without its markers
	FinishReason FinishReason `json:"finish_reason"`
	// ThinkingUnclosed: the generation ended inside the reasoning
	// (</think> never came), so there is no answer however many tokens
	// were spent. Callers warn; see NoAnswerReason.
	ThinkingUnclosed bool `json:"thinking_unclosed,omitempty"`
	// TokenIDs are the generated tokens, EOS included when it ended the
	// generation.
	TokenIDs []int `json:"token_ids,omitempty"`

	PromptTokens     int `json:"prompt_tokens"`
	CachedTokens     int `json:"cached_tokens"` // prompt tokens whose KV cache was reused
	CompletionTokens int `json:"completion_tokens"`

	QueueTime   time.Duration `json:"queue_ns,omitempty"` // waiting for a sequence slot
	PrefillTime time.Duration `json:"prefill_ns"`         // running the uncached prompt tokens
	DecodeTime  time.Duration `json:"decode_ns"`          // sampling and running the generated tokens
}

// NoAnswerReason says why a generation that reasoned produced no answer,
// without naming any flag (each caller adds its own remedy), or returns ""
// when there is an answer or the reasoning closed. An interrupted
// generation has its own message at the caller and gets "" here.
func (r *Result) NoAnswerReason() string {
	if !r.ThinkingUnclosed {
		return ""
	}
	switch r.FinishReason {
	case FinishLength:
		return fmt.Sprintf("no answer: the model spent all %s thinking (</think> never came)", plural.Count(r.CompletionTokens, "token"))
	case FinishEOS, FinishStop:
		return "no answer: the model ended inside its reasoning (</think> never came)"
	}
	return ""
}

// PrefillTokensPerSecond is the prompt processing speed (uncached tokens).
func (r *Result) PrefillTokensPerSecond() float64 {
	return rate(r.PromptTokens-r.CachedTokens, r.PrefillTime)
}

// DecodeTokensPerSecond is the generation speed.
func (r *Result) DecodeTokensPerSecond() float64 {
	return rate(r.CompletionTokens, r.DecodeTime)
}

func rate(n int, d time.Duration) float64 {
	if n <= 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// ErrStop, returned by an onToken callback, ends a generation early as a
// normal stop.
var ErrStop = errors.New("stop generation")

// ErrContextLength is matched (errors.Is) by a ContextLengthError.
var ErrContextLength = errors.New("context length exceeded")

// ContextLengthError reports a prompt that does not fit the context.
type ContextLengthError struct {
	Prompt  int // prompt tokens
	Max     int // the most prompt tokens the engine accepts
	Context int // the engine's context size (prompt + output)
}

func (e *ContextLengthError) Error() string {
	return fmt.Sprintf("prompt too long for the model's context: %d tokens > max %d (the context holds %d tokens, prompt and answer together); shorten the prompt or the conversation, or allow a longer context (--ctx)", e.Prompt, e.Max, e.Context)
}

func (e *ContextLengthError) Is(target error) bool { return target == ErrContextLength }

// validate checks the parts of a request every engine must reject.
func (r *Request) validate() error {
	set := 0
	for _, ok := range []bool{len(r.Messages) > 0, r.Prompt != "", len(r.PromptTokens) > 0} {
		if ok {
			set++
		}
	}
	switch {
	case set == 0:
		return errors.New("empty request: give messages, a prompt or prompt tokens")
	case set > 1:
		return errors.New("request has more than one of messages, prompt and prompt tokens; give exactly one")
	case r.MaxTokens < 0:
		return fmt.Errorf("max tokens must be >= 0 (got %d)", r.MaxTokens)
	}
	if r.Sampling != nil {
		if err := r.Sampling.Validate(); err != nil {
			return fmt.Errorf("sampling: %w", err)
		}
	}
	return nil
}
