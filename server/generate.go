package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"ragtune/guard"
	"ragtune/llm"
	"ragtune/openai"
)

// errContentFilter ends a generation whose output the policy refuses.
var errContentFilter = errors.New("output refused by the content policy")

// ragModelPrefix selects a knowledge base through the model name.
const ragModelPrefix = "rag:"

// generation is one admitted request on its way through the engine.
type generation struct {
	s     *Server
	req   llm.Request
	start time.Time
	first bool // a token has been seen
	// out guards reasoning and answer as one text (partReasoning,
	// partAnswer): held back and released in checked segments.
	out      *guard.Stream
	onText   func(text string, reasoning bool) error
	filtered bool
}

// token passes engine tokens through the output guard to onText.
func (g *generation) token(t llm.Token) error {
	if !g.first {
		g.first = true
		g.s.metrics.observeFirstToken(time.Since(g.start))
	}
	part := partAnswer
	if t.Reasoning {
		part = partReasoning
	}
	if err := g.send(g.out.Push(part, t.Text)); err != nil {
		return err
	}
	if g.out.Refused() {
		return errContentFilter
	}
	return nil
}

func (g *generation) send(ps []guard.Piece) error {
	for _, p := range ps {
		if err := g.onText(p.Text, p.Part == partReasoning); err != nil {
			return &clientGone{err}
		}
	}
	return nil
}

func (g *generation) flush() error {
	err := g.send(g.out.Flush())
	if g.out.Refused() {
		g.filtered = true
	}
	return err
}

// run admits the request and generates, passing guarded text to onText.
// It returns the engine's result (possibly partial), whether the output
// policy cut the answer (finish_reason content_filter), and an error
// already classified for the client, or nil. An error from onText (the
// client went away) ends the generation and comes back with status 499,
// which is never written.
func (s *Server) run(ctx context.Context, req llm.Request, onText func(string, bool) error) (*llm.Result, bool, *httpError) {
	if req.MaxTokens == 0 && s.cfg.DefaultMaxTokens > 0 {
		req.MaxTokens = s.cfg.DefaultMaxTokens
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	queued := time.Now()
	release, err := s.sched.acquire(ctx)
	if err == nil {
		s.metrics.observeQueueWait(time.Since(queued))
	}
	if err != nil {
		if errors.Is(err, errQueueFull) {
			s.metrics.rejected.Add(1)
			return nil, false, &httpError{http.StatusTooManyRequests, openai.TypeRateLimit,
				"server busy: the generation queue is full, retry shortly", "queue_full"}
		}
		return nil, false, timeoutOrGone(err)
	}
	defer release()
	g := &generation{s: s, req: req, start: time.Now(), onText: onText,
		out: s.policy.NewStream(guard.StageOutput)}
	res, err := s.cfg.Engine.Generate(ctx, req, g.token)
	if res != nil {
		s.metrics.promptTokens.Add(uint64(max(res.PromptTokens-res.CachedTokens, 0)))
		s.metrics.generatedTokens.Add(uint64(max(res.CompletionTokens, 0)))
		s.metrics.observeSpeed(res.DecodeTokensPerSecond())
	}
	switch {
	case errors.Is(err, errContentFilter):
		g.filtered = true
		return res, true, nil
	case err == nil:
		if ferr := g.flush(); ferr != nil {
			return res, false, &httpError{status: 499, msg: "client went away"}
		}
		return res, g.filtered, nil
	case errors.Is(err, llm.ErrContextLength):
		return nil, false, &httpError{http.StatusBadRequest, openai.TypeInvalidRequest,
			err.Error() + ": shorten the conversation or lower max_tokens", "context_length_exceeded"}
	case ctx.Err() != nil:
		return res, false, timeoutOrGone(ctx.Err())
	}
	var gone *clientGone
	switch {
	case errors.As(err, &gone):
		return res, false, &httpError{status: 499, msg: "client went away"}
	case res == nil:
		// A request the engine refused before starting.
		return nil, false, &httpError{http.StatusBadRequest, openai.TypeInvalidRequest, s.redact(err.Error()), ""}
	}
	s.log.Error("generation failed", "err", s.redact(err.Error()))
	return res, false, &httpError{http.StatusInternalServerError, openai.TypeServer, "generation failed: " + s.redact(err.Error()), ""}
}

// clientGone wraps a failed write to the client.
type clientGone struct{ err error }

func (e *clientGone) Error() string { return "write to client: " + e.err.Error() }
func (e *clientGone) Unwrap() error { return e.err }

// httpError is a failure to report as an OpenAI error object.
type httpError struct {
	status int
	typ    string
	msg    string
	code   string
}

func (e *httpError) write(w http.ResponseWriter) {
	if e.status == 499 {
		return // nobody is listening
	}
	writeError(w, e.status, e.typ, e.msg, "", e.code)
}

func timeoutOrGone(err error) *httpError {
	if errors.Is(err, context.DeadlineExceeded) {
		return &httpError{http.StatusGatewayTimeout, openai.TypeServer,
			"generation timed out (server --timeout); ask for fewer tokens", "timeout"}
	}
	return &httpError{status: 499, msg: "client went away"}
}

// screenInput applies the input policy to every message the model will
// read, whatever its role (system, user, assistant, tool: a client writes
// them all, so a past "assistant" turn is as much the client's text as a
// user turn), its reasoning included: a refused message fails the
// request, a masked one is sent on masked.
func (s *Server) screenInput(msgs []llm.Message) *httpError {
	if s.policy == nil {
		return nil
	}
	for i := range msgs {
		for _, field := range []*string{&msgs[i].Content, &msgs[i].ReasoningContent} {
			if *field == "" {
				continue
			}
			r := s.policy.Check(guard.StageInput, *field)
			switch r.Action {
			case guard.Refuse:
				return &httpError{http.StatusBadRequest, openai.TypeInvalidRequest,
					"the request was refused by the content policy (" + findingSummary(r.Findings) + ")", "content_policy_violation"}
			case guard.Mask:
				*field = r.Text
			}
		}
	}
	return nil
}

func findingSummary(fs []guard.Finding) string {
	seen := map[string]bool{}
	var parts []string
	for _, f := range fs {
		if f.Action == guard.Allow {
			continue
		}
		k := string(f.Kind)
		if f.Category != "" {
			k += ":" + f.Category
		}
		if !seen[k] {
			seen[k] = true
			parts = append(parts, k)
		}
	}
	return strings.Join(parts, ", ")
}

// truncateNormalize shortens a vector to d dimensions and rescales it to
// unit length (what OpenAI's dimensions parameter does for its models).
func truncateNormalize(v []float32, d int) []float32 {
	out := append([]float32(nil), v[:d]...)
	var ss float64
	for _, x := range out {
		ss += float64(x) * float64(x)
	}
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for i := range out {
			out[i] *= inv
		}
	}
	return out
}
