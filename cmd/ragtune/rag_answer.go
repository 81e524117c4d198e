package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"ragtune/eval"
	"ragtune/llm"
	"ragtune/rag"
)

// ragAnswerOptions shape the grounded answer of answerFromKB.
type ragAnswerOptions struct {
	// MaxTokens caps the answer; 0 leaves it to the engine (until EOS or
	// the end of the context).
	MaxTokens int
	// RawPrompt sends the grounded prompt as plain "User: … Assistant:"
	// text, as the eval suites do, for a model without a chat template
	// (the engine refuses chat messages then).
	RawPrompt bool
	// OnRetrieved, when set, sees the ranked results before generation
	// starts, so they can be shown while a slow model writes; an error
	// from it ends the call.
	OnRetrieved func([]rag.Result) error
	// OnToken, when set, receives the answer as it is generated, so a
	// slow model's answer can be watched instead of waited for.
	OnToken func(llm.Token) error
}

// ragAnswer is one retrieval and, with a model, its grounded answer.
type ragAnswer struct {
	Results []rag.Result
	// Lang is the prompt language, "zh" or "en" (see eval.QuestionLang).
	Lang string
	// Answered is false when no engine was given or nothing was
	// retrieved: an answer grounded in no passage would only be the
	// model's memory presented as a RAG answer.
	Answered bool
	Answer   string
	// Citations are the [n] markers of the answer in order, as
	// eval.ParseCitations reads them, repeats and out-of-range numbers
	// included.
	Citations []int
	// Cited are the distinct numbers among Citations that name a passage
	// (1..len(Results)), ascending; Invalid the distinct ones that do
	// not: a model that cites [7] of 3 passages points at nothing.
	Cited, Invalid []int
	// Gen is the engine's result (token counts, speed); nil when not
	// Answered.
	Gen *llm.Result
}

// answerFromKB retrieves q from s and, when eng is not nil, answers q.Text
// from the passages with the grounded, [n]-citing prompt that 'ragtune
// compare' and the hallucination suite score (eval.RAGPrompt), greedily
// and without reasoning, so the same question over the same knowledge base
// gives the same answer. 'ragtune ask' and the demo's RAG step both go
// through it, so what the demo shows is what ask does.
func answerFromKB(ctx context.Context, s *rag.Store, q rag.Query, eng llm.Engine, o ragAnswerOptions) (*ragAnswer, error) {
	res, err := s.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	a := &ragAnswer{Results: res, Lang: eval.QuestionLang(q.Text)}
	if o.OnRetrieved != nil {
		if err := o.OnRetrieved(res); err != nil {
			return nil, err
		}
	}
	if eng == nil || len(res) == 0 {
		return a, nil
	}
	ps := make([]eval.Passage, len(res))
	for i, r := range res {
		ps[i] = eval.Passage{ID: r.ID, Source: r.Chunk.Source, Text: r.Chunk.Text, Score: r.Score}
	}
	msgs := []llm.Message{{Role: "user", Content: eval.RAGPrompt(q.Text, ps, a.Lang)}}
	req := llm.Request{Messages: msgs, MaxTokens: o.MaxTokens, Sampling: &llm.Sampling{Temperature: 0}, DisableThinking: true}
	if o.RawPrompt {
		// The plain format has no end-of-turn token; a new line ends the
		// answer, as in the eval suites.
		req.Messages, req.Prompt, req.Stop = nil, eval.PlainChat(msgs, true), []string{"\n"}
	}
	out, err := eng.Generate(ctx, req, o.OnToken)
	if err != nil {
		return nil, fmt.Errorf("answer from the retrieved passages: %w", err)
	}
	a.Answered, a.Gen = true, out
	a.Answer = strings.TrimSpace(out.Text)
	a.Citations = eval.ParseCitations(a.Answer)
	a.Cited, a.Invalid = splitCitations(a.Citations, len(res))
	return a, nil
}

// splitCitations separates the cited numbers that name one of n passages
// from those that do not, each distinct and ascending.
func splitCitations(cites []int, n int) (valid, invalid []int) {
	for _, c := range cites {
		if c >= 1 && c <= n {
			valid = append(valid, c)
		} else {
			invalid = append(invalid, c)
		}
	}
	slices.Sort(valid)
	slices.Sort(invalid)
	return slices.Compact(valid), slices.Compact(invalid)
}
