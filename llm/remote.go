package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"ragtune/openai"
)

// RemoteOptions configure a Remote engine.
type RemoteOptions struct {
	// BaseURL of an OpenAI-compatible server, with or without the
	// trailing /v1 ("http://127.0.0.1:8000", "http://host:11434/v1").
	BaseURL string
	// Model is the model name sent with each request.
	Model string
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
	opts   RemoteOptions
	client *openai.Client
}

// NewRemote returns an engine for the server at opts.BaseURL.
func NewRemote(opts RemoteOptions) (*Remote, error) {
	base := strings.TrimRight(opts.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("remote backend %q: the URL must start with http:// or https://", opts.BaseURL)
	}
	hc := opts.Client
	if hc == nil {
		hc = &http.Client{}
	}
	return &Remote{opts: opts, client: openai.NewClient(base, opts.APIKey, hc)}, nil
}

// RemoteError is an error answer of the server (its fields are
// openai.APIError's: Status, Message, Type, Code).
type RemoteError struct {
	*openai.APIError
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
	return target == ErrContextLength && e.ContextLengthExceeded()
}

// Unwrap gives the wire error.
func (e *RemoteError) Unwrap() error { return e.APIError }

// remoteErr turns the client's error answers into RemoteErrors and names
// the backend in the others.
func remoteErr(err error) error {
	var ae *openai.APIError
	if errors.As(err, &ae) {
		return &RemoteError{ae}
	}
	return fmt.Errorf("remote backend: %w", err)
}

// wireSampling fills a request's sampling parameters from p, sending only
// what differs from the parameter's neutral value so that servers which
// do not know vLLM's extensions (top_k, min_p, repetition_penalty) are
// not sent them needlessly.
func wireSampling(p *Sampling, maxTokens int) openai.SamplingParams {
	var w openai.SamplingParams
	if maxTokens > 0 {
		w.MaxTokens = &maxTokens
	}
	if p == nil {
		return w
	}
	t := p.Temperature
	w.Temperature = &t
	if p.TopP > 0 && p.TopP < 1 {
		w.TopP = &p.TopP
	}
	if p.TopK > 0 {
		w.TopK = &p.TopK
	}
	if p.MinP > 0 {
		w.MinP = &p.MinP
	}
	if p.RepetitionPenalty > 0 && p.RepetitionPenalty != 1 {
		w.RepetitionPenalty = &p.RepetitionPenalty
	}
	if p.FrequencyPenalty != 0 {
		w.FrequencyPenalty = &p.FrequencyPenalty
	}
	if p.PresencePenalty != 0 {
		w.PresencePenalty = &p.PresencePenalty
	}
	if p.Seed >= 0 {
		w.Seed = &p.Seed
	}
	return w
}

// open validates req and starts its stream: chat requests go to
// /v1/chat/completions, prompts to /v1/completions. Invalid requests are
// refused before anything is sent.
func (r *Remote) open(ctx context.Context, req Request) (*openai.Stream, bool, error) {
	if err := req.validate(); err != nil {
		return nil, false, err
	}
	p := r.opts.Sampling
	if req.Sampling != nil {
		p = req.Sampling
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			return nil, false, err
		}
	}
	// A copy: wireSampling points into it, and the caller's p stays put.
	var sp Sampling
	if p != nil {
		sp = *p
		p = &sp
	}
	params := wireSampling(p, req.MaxTokens)
	if len(req.Messages) > 0 {
		cr := openai.ChatRequest{Model: r.opts.Model, SamplingParams: params}
		for _, m := range req.Messages {
			cr.Messages = append(cr.Messages, openai.Message{Role: m.Role, Content: openai.Content(m.Content), ReasoningContent: m.ReasoningContent})
		}
		if req.DisableThinking {
			off := false
			cr.ChatTemplateKwargs = &openai.ChatTemplateKwargs{EnableThinking: &off}
		}
		s, err := r.client.StreamChat(ctx, &cr)
		if err != nil {
			return nil, true, remoteErr(err)
		}
		return s, true, nil
	}
	cr := openai.CompletionRequest{Model: r.opts.Model, SamplingParams: params}
	if req.Prompt != "" {
		cr.Prompt.Text = req.Prompt
	} else {
		cr.Prompt.Tokens = req.PromptTokens
	}
	s, err := r.client.StreamCompletion(ctx, &cr)
	if err != nil {
		return nil, false, remoteErr(err)
	}
	return s, false, nil
}

// Generate implements Engine.
func (r *Remote) Generate(ctx context.Context, req Request, onToken func(Token) error) (*Result, error) {
	t0 := time.Now()
	stream, chat, err := r.open(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return &Result{FinishReason: FinishCancelled}, ctx.Err()
		}
		return nil, err
	}
	// Closing the body ends the stream, which tells the server to stop.
	defer stream.Close()

	start := phaseStart
	if r.opts.StartInReasoning && chat && !req.DisableThinking {
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

	if !stream.Events() {
		// A server that ignores stream:true answers with one object.
		return finish(r.whole(stream, out, res))
	}
	var reason FinishReason
	contentSeen := false
	// delta handles one choice's increment, whichever endpoint sent it.
	delta := func(think, text string, finishReason *string) error {
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
				return err
			}
		}
		if text != "" {
			contentSeen = true
			if err := out.push(-1, text); err != nil {
				return err
			}
		}
		if finishReason != nil && *finishReason != "" {
			reason = remoteFinish(*finishReason)
		}
		return nil
	}
	usage := func(u *openai.Usage) {
		if u != nil {
			res.PromptTokens, res.CompletionTokens = u.PromptTokens, u.CompletionTokens
			if d := u.PromptTokensDetails; d != nil {
				res.CachedTokens = d.CachedTokens
			}
		}
	}
read:
	for {
		var c openai.ChatChunk
		err := stream.Next(&c)
		var ae *openai.APIError
		switch {
		case err == io.EOF:
			break read
		case errors.As(err, &ae):
			return finish(FinishError, &RemoteError{ae})
		case err != nil && ctx.Err() != nil:
			return finish(FinishCancelled, ctx.Err())
		case err != nil:
			return finish(FinishError, remoteErr(err))
		}
		usage(c.Usage)
		for _, ch := range c.Choices {
			// Completion streams send the increment as text.
			if err := delta(ch.Delta.ReasoningContent+ch.Delta.Reasoning, ch.Delta.Content+ch.Text, ch.FinishReason); err != nil {
				return finish(FinishError, err)
			}
			if out.stopped {
				return finish(FinishStop, nil)
			}
		}
	}
	if ctx.Err() != nil {
		return finish(FinishCancelled, ctx.Err())
	}
	if reason == "" {
		reason = FinishEOS
	}
	return finish(reason, nil)
}

// whole reads a non-streamed answer (a chat response or a completion).
func (r *Remote) whole(stream *openai.Stream, out *output, res *Result) (FinishReason, error) {
	var v openai.ChatResponse
	if err := stream.Whole(&v); err != nil {
		return FinishError, remoteErr(err)
	}
	if len(v.Choices) == 0 {
		return FinishError, errors.New("remote backend: response without choices")
	}
	if v.Usage != nil {
		res.PromptTokens, res.CompletionTokens = v.Usage.PromptTokens, v.Usage.CompletionTokens
	}
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
	case openai.FinishLength:
		return FinishLength
	case openai.FinishContentFilter:
		return FinishStop
	}
	return FinishEOS
}

// Models lists the model ids the server offers.
func (r *Remote) Models(ctx context.Context) ([]string, error) {
	ids, err := r.client.Models(ctx)
	if err != nil {
		return nil, remoteErr(err)
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
