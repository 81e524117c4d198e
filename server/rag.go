package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"ragtune/guard"
	"ragtune/llm"
	"ragtune/openai"
	"ragtune/rag"
)

// screenRetrieved applies the retrieved-text policy: masked spans are
// masked; a refused passage is withheld entirely ("" tells the caller).
func (s *Server) screenRetrieved(text string) string {
	if s.policy == nil {
		return text
	}
	r := s.policy.Check(guard.StageRetrieved, text)
	switch r.Action {
	case guard.Refuse:
		return ""
	case guard.Mask:
		return r.Text
	}
	return text
}

// screenMeta applies the output policy to a field that leaves the server
// beside the model's answer: a document's name, title and headings, a
// citation's source. Masked findings are masked; a field the policy
// would refuse is not dropped (a listing needs its rows) but redacted
// whole, every finding masked.
func (s *Server) screenMeta(text string) string {
	if s.policy == nil || text == "" {
		return text
	}
	text = s.maskJoinedPII(text)
	r := s.policy.Check(guard.StageOutput, text)
	switch r.Action {
	case guard.Refuse:
		out, _ := s.policy.Redact(text)
		return out
	case guard.Mask:
		return r.Text
	}
	return text
}

// maskJoinedPII masks personal data that file names glue to words with
// '_' or '+' ("张三_11010519491231002X.md"), where a detector that wants
// a boundary around a number sees none: it scans a copy with those
// turned into spaces (same byte offsets) and stars the spans it finds.
func (s *Server) maskJoinedPII(text string) string {
	if !strings.ContainsAny(text, "_+") {
		return text
	}
	spaced := strings.Map(func(r rune) rune {
		if r == '_' || r == '+' {
			return ' '
		}
		return r
	}, text)
	var b strings.Builder
	last := 0
	for _, f := range s.policy.Scan(spaced) {
		if !slices.Contains(guard.PIIKinds, f.Kind) || f.Start < last {
			continue
		}
		b.WriteString(text[last:f.Start])
		b.WriteString(strings.Repeat("*", utf8.RuneCountInString(text[f.Start:f.End])))
		last = f.End
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

func (s *Server) screenMetaList(xs []string) []string {
	if len(xs) == 0 {
		return xs
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = s.screenMeta(x)
	}
	return out
}

// allFindings marks scan findings as acted on, for findingSummary.
func allFindings(fs []guard.Finding) []guard.Finding {
	for i := range fs {
		fs[i].Action = guard.Refuse
	}
	return fs
}

// screenQuery applies the input policy to retrieval text (/query, and the
// question of a knowledge-base chat): refused terms fail the request as
// in a chat; personal data (an ID or phone number) is cut out before the
// search, so that searching for one cannot tell whether a knowledge base
// holds it: the answer is the same as for a number it does not hold.
func (s *Server) screenQuery(q string) (string, *httpError) {
	if s.policy == nil {
		return q, nil
	}
	r := s.policy.Check(guard.StageInput, q)
	if r.Action == guard.Refuse {
		return "", &httpError{http.StatusBadRequest, openai.TypeInvalidRequest,
			"the query was refused by the content policy (" + findingSummary(r.Findings) + ")", "content_policy_violation"}
	}
	var b strings.Builder
	last := 0
	for _, f := range s.policy.Scan(q) {
		if !slices.Contains(guard.PIIKinds, f.Kind) || f.Start < last {
			continue
		}
		b.WriteString(q[last:f.Start])
		b.WriteByte(' ')
		last = f.End
	}
	b.WriteString(q[last:])
	return b.String(), nil
}

// retrieve searches a knowledge base, reranked by the reranker it records
// unless noRerank, and returns the hits as citations, screened: chunk
// text by the retrieved-text policy, and every field the client sees by
// the output policy.
func (s *Server) retrieve(ctx context.Context, h *kbHandle, query string, k int, mode string, noRerank bool) ([]openai.Citation, *httpError) {
	if k <= 0 {
		k = 4
	}
	k = min(k, 20)
	m := rag.ModeBM25
	if mode != "" {
		var err error
		if m, err = rag.ParseMode(mode); err != nil {
			return nil, &httpError{http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), ""}
		}
	}
	cites := []openai.Citation{}
	if strings.TrimSpace(query) == "" {
		return cites, nil // nothing left after screening
	}
	results, err := h.store.Search(ctx, rag.Query{Text: query, K: k, Mode: m, Rerank: s.kbReranker(h, noRerank)})
	if err != nil {
		if errors.Is(err, rag.ErrNoVectors) {
			return nil, &httpError{http.StatusBadRequest, openai.TypeInvalidRequest, err.Error(), "kb_no_vectors"}
		}
		he := s.kbError("retrieve", err)
		if he.status == http.StatusInternalServerError {
			he.msg = "retrieval failed: " + he.msg
		}
		return nil, he
	}
	for _, r := range results {
		text := s.screenRetrieved(r.Chunk.Text)
		if text == "" {
			continue
		}
		id, name := h.displayName(r.Chunk.Source)
		if r.Chunk.Title == id {
			r.Chunk.Title = strings.TrimSuffix(name, filepath.Ext(name))
		}
		cites = append(cites, openai.Citation{Index: len(cites) + 1, KB: h.name,
			ChunkID: id + "-" + strconv.Itoa(r.Chunk.Index), DocumentID: id, Source: s.screenMeta(name),
			Title: s.screenMeta(r.Chunk.Title), Headings: s.screenMetaList(r.Chunk.Headings), CharStart: r.Chunk.CharStart, CharEnd: r.Chunk.CharEnd,
			Score: r.Score, Text: s.screenMeta(text)})
	}
	return cites, nil
}

// ragMessages retrieves passages for the last user message and rewrites
// it into rag's grounded prompt, the one 'ragtune ask' sends, in the
// question's language. Uploaded documents are untrusted, so each passage
// sits between markers holding a fresh nonce (rag.PromptOptions.Nonce): a
// document cannot close its own fence and pose as the user, and the
// prompt says that text inside the fences is data. Earlier turns are kept
// as they were.
func (s *Server) ragMessages(ctx context.Context, kb string, msgs []llm.Message, k int, mode string, noRerank bool) ([]llm.Message, []openai.Citation, *httpError) {
	h, he := s.openKB(ctx, kb, ScopeRead)
	if he != nil {
		return nil, nil, he
	}
	last := -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			last = i
			break
		}
	}
	if last < 0 {
		return nil, nil, &httpError{http.StatusBadRequest, openai.TypeInvalidRequest, "a knowledge-base chat needs a user message", ""}
	}
	question := msgs[last].Content
	q, he := s.screenQuery(question)
	if he != nil {
		return nil, nil, he
	}
	cites, he := s.retrieve(ctx, h, q, k, mode, noRerank)
	if he != nil {
		return nil, nil, he
	}
	ps := make([]rag.Passage, len(cites))
	for i, c := range cites {
		ps[i] = rag.Passage{ID: c.ChunkID, Source: c.Source, Text: c.Text, Score: c.Score}
	}
	out := append([]llm.Message(nil), msgs...)
	out[last].Content = rag.Prompt(question, ps, rag.PromptOptions{Nonce: rag.NewNonce()})
	return out, cites, nil
}
