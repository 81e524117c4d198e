package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Model is what Local needs from a decoder (model/qwen2 through a thin
// adapter, or a fake in tests): immutable weights that hand out States.
// It must be safe to use several States of one Model concurrently.
type Model interface {
	VocabSize() int  // length of a logits vector
	MaxContext() int // longest sequence the model supports; <= 0 if unknown
	NewState(maxSeq int) State
}

// State is one sequence's KV cache. It is used by one goroutine at a time.
type State interface {
	// Forward runs tokens at positions Pos()..Pos()+len(tokens)-1 and
	// returns the last token's logits; the slice may be reused by the
	// next call.
	Forward(tokens []int) ([]float32, error)
	Pos() int
	// Truncate drops cached tokens from pos on.
	Truncate(pos int)
}

// Tokenizer is what Local needs from a vocabulary; *tokenizer.BPE has it.
type Tokenizer interface {
	// Encode tokenizes text; addSpecial adds what the tokenizer's
	// configuration asks for (BOS for R1-Distill).
	Encode(text string, addSpecial bool) []int
	// TokenBytes is one token's bytes (possibly part of a character).
	TokenBytes(id int) []byte
	VocabSize() int
	EOS() int // -1 when none
}

// Template renders chat messages into a prompt; *chat.Template has it.
type Template interface {
	Render(msgs []Message, addGenerationPrompt bool) (string, error)
}

// LocalOptions configure a Local engine. The zero value works.
type LocalOptions struct {
	// ContextSize is the most tokens (prompt + output) one sequence holds;
	// it sizes each KV cache. 0 means min(model maximum, 4096): the R1
	// models accept 131072, whose cache would take gigabytes per sequence.
	ContextSize int
	// Parallel is how many generations run at once, each with its own KV
	// cache (allocated on first use); further callers wait. 0 means 1.
	// Their forward passes share steps: one pass per step over the next
	// token of every decoding sequence (see BatchModel). With Q8_0/Q4_0
	// (tile kernels) and K-quant weights a sequence's logits do not depend
	// on what shares its steps; float32/F16/BF16 weights switch matmul
	// kernels with the step's size, which can change their last bits (see
	// BatchInvariant).
	Parallel int
	// Sampling is the default for requests without their own; nil means
	// greedy.
	Sampling *Sampling
	// EOS are end-of-sequence ids besides the tokenizer's EOS (for example
	// generation_config.json's eos_token_id list).
	EOS []int
	// PrefillChunk is how many prompt tokens one step runs for a
	// sequence, and the per-step budget of prompt tokens: a step holds
	// every decoding sequence's token and at most this many prompt tokens
	// besides, so decode latency stays steady while a long prompt
	// prefills over several steps. Cancellation is checked between steps,
	// so this also bounds how long a cancelled request keeps computing
	// (64 tokens of a 7B model take seconds on two cores). 0 means 64.
	PrefillChunk int
	// NoPrefixReuse turns off KV-cache reuse between requests (for
	// measuring what the reuse saves).
	NoPrefixReuse bool
}

// Local generates with a model in this process.
//
// It is safe for concurrent use: each generation takes one of Parallel
// sequence slots (a KV cache plus a sampler) and holds it until it ends;
// callers beyond Parallel wait for a slot or for their ctx. The generations
// holding slots share forward steps (continuous batching, see stepper):
// sampling, stop strings and the reasoning split run in each caller's
// goroutine, and the model runs every sequence's next token in one pass. A
// slot keeps the tokens it last processed, and a new prompt that shares a
// prefix with them (the previous turns of a chat) only runs the tokens
// after the shared part; a waiting request takes the free slot with the
// longest shared prefix, and when another slot, busy or free, shares a
// longer one, its KV rows are copied over (a common system prompt or RAG
// instruction block is computed once).
type Local struct {
	model    Model
	tok      Tokenizer
	tmpl     Template // nil: Messages requests are refused
	tmplErr  error    // why tmpl is nil, when loading it failed
	vocab    int      // ids below this have text; padding rows above are never sampled
	ctxSize  int
	chunk    int
	eos      []int
	defaults Sampling
	reuse    bool

	sem   chan struct{} // one entry per free slot
	mu    sync.Mutex
	free  []*slot
	slots []*slot // all of them, for prefix sharing
	steps *stepper
}

// slot is one sequence: a KV cache, the tokens in it, and a sampler.
type slot struct {
	state   State
	tokens  []int // the sequence whose keys and values state holds
	sampler *Sampler
	one     []int // the decode step's input, kept to avoid an allocation per token
	job     job   // its forward work, reused
}

// NewLocal builds an engine from a model, its tokenizer and, for chat
// requests, its chat template (may be nil).
func NewLocal(m Model, tok Tokenizer, tmpl Template, opts LocalOptions) (*Local, error) {
	if m == nil || tok == nil {
		return nil, errors.New("local engine needs a model and a tokenizer")
	}
	ctxSize := opts.ContextSize
	if ctxSize <= 0 {
		ctxSize = 4096
	}
	if mc := m.MaxContext(); mc > 0 && ctxSize > mc {
		if opts.ContextSize > 0 {
			return nil, fmt.Errorf("context size %d exceeds the model's maximum %d", opts.ContextSize, mc)
		}
		ctxSize = mc
	}
	if opts.Parallel < 0 || opts.PrefillChunk < 0 {
		return nil, fmt.Errorf("parallel (%d) and prefill chunk (%d) must be >= 0", opts.Parallel, opts.PrefillChunk)
	}
	l := &Local{
		model: m, tok: tok, tmpl: tmpl, ctxSize: ctxSize,
		chunk: opts.PrefillChunk, reuse: !opts.NoPrefixReuse,
	}
	if l.chunk == 0 {
		l.chunk = 64
	}
	if opts.Sampling != nil {
		if err := opts.Sampling.Validate(); err != nil {
			return nil, fmt.Errorf("default sampling: %w", err)
		}
		l.defaults = *opts.Sampling
	}
	for _, id := range append([]int{tok.EOS()}, opts.EOS...) {
		if id >= 0 && !contains(l.eos, id) {
			l.eos = append(l.eos, id)
		}
	}
	// A model's embedding may be padded beyond the tokenizer (151936 rows
	// for R1's 151665 tokens; a GGUF lists such rows as unused [PADn]
	// tokens without text). Those ids decode to nothing, so they are never
	// sampled.
	l.vocab = tok.VocabSize()
	for l.vocab > 0 && len(tok.TokenBytes(l.vocab-1)) == 0 {
		l.vocab--
	}
	n := max(opts.Parallel, 1)
	l.sem = make(chan struct{}, n)
	for range n {
		s := &slot{one: make([]int, 1)}
		s.job = job{s: s, ready: make(chan struct{}, 1)}
		l.free = append(l.free, s)
		l.slots = append(l.slots, s)
		l.sem <- struct{}{}
	}
	// One step takes every sequence's decode token plus one prompt chunk.
	budget := l.chunk + n
	var b Batcher = &forwardBatcher{}
	if bm, ok := m.(BatchModel); ok {
		b = bm.NewBatcher(budget, n)
	}
	l.steps = newStepper(l, b, budget, n)
	return l, nil
}

// DefaultSampling is what requests without Sampling get.
func (l *Local) DefaultSampling() Sampling { return l.defaults }

// ContextSize is the most tokens one generation may hold.
func (l *Local) ContextSize() int { return l.ctxSize }

// Tokenizer returns the engine's tokenizer (for counting tokens).
func (l *Local) Tokenizer() Tokenizer { return l.tok }

// Template returns the engine's chat template; nil when the model has none
// (then chat requests are refused, but a caller rendering its own prompts,
// such as eval with plain "User:/Assistant:" text, can still use it).
func (l *Local) Template() Template { return l.tmpl }

// Close releases the model if it holds resources (mapped weight files).
// The engine must not be used afterwards.
func (l *Local) Close() error {
	if c, ok := l.model.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Prompt returns the token ids a request would run: the rendered chat
// template (or raw prompt) tokenized, for counting or inspecting prompts.
func (l *Local) Prompt(req Request) ([]int, error) {
	ids, _, err := l.prompt(req)
	return ids, err
}

// prompt also returns the phase generation starts in: inside a reasoning
// block when the prompt's tail opened one.
func (l *Local) prompt(req Request) ([]int, phase, error) {
	if err := req.validate(); err != nil {
		return nil, 0, err
	}
	switch {
	case len(req.PromptTokens) > 0:
		V := l.model.VocabSize()
		for i, id := range req.PromptTokens {
			if id < 0 || id >= V {
				return nil, 0, fmt.Errorf("prompt token %d (index %d) is outside the vocabulary [0, %d)", id, i, V)
			}
		}
		// The phase comes from the text of the prompt's tail, where the
		// template would have opened or closed a reasoning block.
		var tail []byte
		for _, id := range req.PromptTokens[max(0, len(req.PromptTokens)-16):] {
			tail = append(tail, l.tok.TokenBytes(id)...)
		}
		return req.PromptTokens, initialPhase(string(tail)), nil
	case req.Prompt != "":
		text := req.Prompt
		if req.DisableThinking {
			text = closeThinking(text)
		}
		return l.tok.Encode(text, true), initialPhase(text), nil
	}
	if l.tmpl == nil {
		if l.tmplErr != nil {
			return nil, 0, fmt.Errorf("chat needs the model's chat template: %w; send a raw prompt instead", l.tmplErr)
		}
		return nil, 0, errors.New("the model has no chat template (tokenizer_config.json chat_template); send a raw prompt instead of messages")
	}
	text, err := render(l.tmpl, req.Messages, req.DisableThinking)
	if err != nil {
		return nil, 0, fmt.Errorf("render chat template: %w", err)
	}
	if req.DisableThinking {
		text = closeThinking(text)
	}
	// The template writes BOS itself, so nothing is added (as HF's
	// apply_chat_template does).
	return l.tok.Encode(text, false), initialPhase(text), nil
}

// closeThinking prefills an empty reasoning block when the prompt ends
// inside an open one, so the model answers directly.
func closeThinking(prompt string) string {
	if initialPhase(prompt) != phaseThink {
		return prompt
	}
	return strings.TrimRightFunc(prompt, unicode.IsSpace) + "\n\n" + thinkClose + "\n\n"
}

// Generate implements Engine.
func (l *Local) Generate(ctx context.Context, req Request, onToken func(Token) error) (*Result, error) {
	prompt, start, err := l.prompt(req)
	if err != nil {
		return nil, err
	}
	if len(prompt) == 0 {
		return nil, errors.New("the prompt encodes to no tokens")
	}
	// Prompt and output together fit the context, and the prompt leaves
	// room for at least one generated token.
	if len(prompt) >= l.ctxSize {
		return nil, &ContextLengthError{Prompt: len(prompt), Max: l.ctxSize - 1, Context: l.ctxSize}
	}
	p := l.defaults
	if req.Sampling != nil {
		p = *req.Sampling
	}
	res := &Result{PromptTokens: len(prompt)}
	tq := time.Now()
	s, err := l.acquire(ctx, prompt)
	res.QueueTime = time.Since(tq)
	if err != nil {
		res.FinishReason = FinishCancelled
		return res, err
	}
	defer l.release(s)

	t0 := time.Now()
	logits, cached, err := l.prefill(ctx, s, prompt)
	res.CachedTokens = cached
	res.PrefillTime = time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			res.FinishReason = FinishCancelled
			return res, ctx.Err()
		}
		res.FinishReason = FinishError
		return res, err
	}

	t1 := time.Now()
	err = l.decode(ctx, s, req, p, start, prompt, logits, res, onToken)
	res.DecodeTime = time.Since(t1)
	return res, err
}

// decode samples and runs tokens until a finish condition, filling res.
func (l *Local) decode(ctx context.Context, s *slot, req Request, p Sampling, start phase, prompt []int, logits []float32, res *Result, onToken func(Token) error) error {
	if s.sampler == nil {
		s.sampler = NewSampler(l.model.VocabSize(), p)
	}
	s.sampler.Reset(p, prompt)
	out := newOutput(start, req.Stop, onToken)
	var text utf8Stream
	V := min(len(logits), l.vocab)
	finish := func(r FinishReason, err error) error {
		res.FinishReason = r
		if err == nil {
			if u := text.flush(); u != "" {
				err = out.push(-1, u)
			}
		}
		if err == nil {
			err = out.finish()
		}
		res.Text, res.Reasoning = out.answer.String(), out.reasoning.String()
		res.ThinkingUnclosed = out.unclosed()
		if out.stopped && (r == FinishEOS || r == FinishLength) {
			res.FinishReason = FinishStop
		}
		switch {
		case errors.Is(err, ErrStop):
			res.FinishReason, err = FinishStop, nil
		case err != nil && res.FinishReason != FinishCancelled:
			res.FinishReason = FinishError
		}
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			res.FinishReason = FinishCancelled
			res.Text, res.Reasoning = out.answer.String(), out.reasoning.String()
			return err
		}
		id := s.sampler.Sample(logits[:V])
		s.sampler.Accept(id)
		res.TokenIDs = append(res.TokenIDs, id)
		res.CompletionTokens++
		if contains(l.eos, id) {
			return finish(FinishEOS, nil)
		}
		if err := out.push(id, text.add(l.tok.TokenBytes(id))); err != nil {
			return finish(FinishError, err)
		}
		if out.stopped {
			return finish(FinishStop, nil)
		}
		if req.MaxTokens > 0 && res.CompletionTokens >= req.MaxTokens {
			return finish(FinishLength, nil)
		}
		if len(prompt)+res.CompletionTokens >= l.ctxSize {
			return finish(FinishLength, nil)
		}
		s.one[0] = id
		j := &s.job
		j.ctx, j.prompt, j.toks = ctx, nil, s.one
		l.steps.run(j)
		if j.err != nil {
			if ctx.Err() != nil {
				res.FinishReason = FinishCancelled
				res.Text, res.Reasoning = out.answer.String(), out.reasoning.String()
				return ctx.Err()
			}
			return finish(FinishError, fmt.Errorf("decode token %d: %w", res.CompletionTokens, j.err))
		}
		logits = j.logits
	}
}

// prefill runs the prompt tokens not already cached (in this slot or,
// copied, in another) through the stepper, in chunks that share steps
// with the other sequences, and returns the last prompt token's logits and
// how many tokens were reused.
func (l *Local) prefill(ctx context.Context, s *slot, prompt []int) ([]float32, int, error) {
	j := &s.job
	j.ctx, j.prompt, j.toks, j.cached = ctx, prompt, nil, 0
	l.steps.run(j)
	j.prompt = nil
	if j.err != nil {
		if ctx.Err() != nil {
			return nil, j.cached, ctx.Err()
		}
		return nil, j.cached, fmt.Errorf("prefill: %w", j.err)
	}
	return j.logits, j.cached, nil
}

// forget empties the slot's cache after an error left it in doubt.
func (s *slot) forget() {
	s.state.Truncate(0)
	s.tokens = s.tokens[:0]
}

// acquire waits for a free slot and takes the one sharing the longest
// prefix with prompt.
func (l *Local) acquire(ctx context.Context, prompt []int) (*slot, error) {
	select {
	case <-l.sem:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps.mu.Lock() // slot token lists belong to the stepper
	defer l.steps.mu.Unlock()
	best, bestN := 0, -1
	for i, s := range l.free {
		if n := commonPrefix(s.tokens, prompt); n > bestN {
			best, bestN = i, n
		}
	}
	s := l.free[best]
	l.free = append(l.free[:best], l.free[best+1:]...)
	l.steps.held++
	if !l.steps.running {
		l.steps.running = true
		go l.steps.loop()
	}
	return s, nil
}

func (l *Local) release(s *slot) {
	l.mu.Lock()
	l.free = append(l.free, s)
	l.mu.Unlock()
	l.steps.unhold()
	l.sem <- struct{}{}
}

func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
