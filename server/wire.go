package server

import (
	"fmt"
	"math"

	"ragtune/llm"
	"ragtune/openai"
)

// The translation between the OpenAI wire types and llm's Request and
// Result: what a request may ask of the engine is decided here, where the
// HTTP API is, so package openai stays a description of the wire.

func badParam(param, format string, args ...any) error {
	return &openai.RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// samplingToLLM converts the sampling parameters; defaults fills what the request
// leaves unset (the engine's generation_config.json values).
func samplingToLLM(p openai.SamplingParams, defaults llm.Sampling, req *llm.Request) error {
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
		return &openai.RequestError{Message: err.Error()}
	}
	if len(p.Stop) > 4 {
		return badParam("stop", "at most 4 stop strings, got %d", len(p.Stop))
	}
	req.Sampling = &s
	req.Stop = p.Stop
	return nil
}

// Roles a chat request may use.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true}

// chatToLLM converts a chat request. The developer role (OpenAI's newer name
// for system) is rendered as system.
func chatToLLM(r *openai.ChatRequest, defaults llm.Sampling) (llm.Request, error) {
	var req llm.Request
	if len(r.Messages) == 0 {
		return req, badParam("messages", "at least one message is required")
	}
	for i, m := range r.Messages {
		if !chatRoles[m.Role] {
			return req, badParam(fmt.Sprintf("messages[%d].role", i), "unsupported role %q (use system, user or assistant)", m.Role)
		}
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		req.Messages = append(req.Messages, llm.Message{Role: role, Content: string(m.Content), ReasoningContent: m.ReasoningContent})
	}
	if err := samplingToLLM(r.SamplingParams, defaults, &req); err != nil {
		return req, err
	}
	if k := r.ChatTemplateKwargs; k != nil && k.EnableThinking != nil && !*k.EnableThinking {
		req.DisableThinking = true
	}
	return req, nil
}

// completionToLLM converts a completion request.
func completionToLLM(r *openai.CompletionRequest, defaults llm.Sampling) (llm.Request, error) {
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
	return req, samplingToLLM(r.SamplingParams, defaults, &req)
}

// usageFrom reads a Result's counts.
func usageFrom(r *llm.Result) *openai.Usage {
	if r == nil {
		return &openai.Usage{}
	}
	return &openai.Usage{PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		TotalTokens:         r.PromptTokens + r.CompletionTokens,
		PromptTokensDetails: &openai.TokenDetails{CachedTokens: r.CachedTokens}}
}

// finishReasonFrom maps llm's reasons onto OpenAI's: an end-of-sequence
// token and a stop string are both "stop".
func finishReasonFrom(f llm.FinishReason) string {
	if f == llm.FinishLength {
		return openai.FinishLength
	}
	return openai.FinishStop
}

// chatResponseFrom builds the non-streaming response for a result.
func chatResponseFrom(id, model string, created int64, r *llm.Result, finish string) openai.ChatResponse {
	msg := openai.ResponseMessage{Role: "assistant"}
	if r != nil {
		msg.Content, msg.ReasoningContent = r.Text, r.Reasoning
	}
	return openai.ChatResponse{ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []openai.ChatChoice{{Index: 0, Message: msg, FinishReason: finish}}, Usage: usageFrom(r)}
}
