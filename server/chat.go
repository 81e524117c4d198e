package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"ragtune/llm"
	"ragtune/openai"
	"ragtune/rag"
)

// checkModel accepts the served model, an empty name, or "rag:<kb>", and
// returns the knowledge base the name selects.
func (s *Server) checkModel(name string) (kb string, e *httpError) {
	if kb, ok := strings.CutPrefix(name, ragModelPrefix); ok {
		return kb, nil
	}
	if name == "" || name == s.cfg.ModelName {
		return "", nil
	}
	return "", &httpError{http.StatusNotFound, openai.TypeNotFound,
		fmt.Sprintf("model %q does not exist: this server serves %q (GET /v1/models lists it)", name, s.cfg.ModelName), "model_not_found"}
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var cr openai.ChatRequest
	if err := openai.Decode(body, &cr); err != nil {
		writeRequestError(w, err)
		return
	}
	kbName, he := s.checkModel(cr.Model)
	if he != nil {
		he.write(w)
		return
	}
	if cr.KB != "" {
		kbName = cr.KB
	}
	req, err := chatToLLM(&cr, s.cfg.DefaultSampling)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	if he := s.screenInput(req.Messages); he != nil {
		he.write(w)
		return
	}
	var cites []openai.Citation
	if kbName != "" {
		var he *httpError
		req.Messages, cites, he = s.ragMessages(r.Context(), kbName, req.Messages, cr.TopKChunks, cr.KBMode, cr.KBRerank != nil && !*cr.KBRerank)
		if he != nil {
			he.write(w)
			return
		}
	}
	model := cr.Model
	if model == "" {
		model = s.cfg.ModelName
	}
	id, created := newID("chatcmpl-"), time.Now().Unix()

	if !cr.Stream {
		var answer, reasoning strings.Builder
		res, filtered, he := s.run(r.Context(), req, func(text string, think bool) error {
			if think {
				reasoning.WriteString(text)
			} else {
				answer.WriteString(text)
			}
			return nil
		})
		if he != nil {
			he.write(w)
			return
		}
		finish := finishReasonFrom(res.FinishReason)
		if filtered {
			finish = openai.FinishContentFilter
		}
		resp := chatResponseFrom(id, model, created, res, finish)
		// What the client sees is what passed the output guard.
		resp.Choices[0].Message.Content = answer.String()
		resp.Choices[0].Message.ReasoningContent = reasoning.String()
		for i, c := range rag.Cited(answer.String(), len(cites)) {
			cites[i].Cited = c
		}
		resp.Citations = cites
		writeJSON(w, http.StatusOK, resp)
		return
	}

	var stream *openai.EventWriter
	chunk := func(d openai.Delta, finish *string) openai.ChatChunk {
		return openai.ChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []openai.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
	}
	var answer strings.Builder
	// Headers go out with the first text, so a request the engine refuses
	// before generating (context length, template) is still a plain HTTP
	// error and not an error event inside a 200 stream.
	begin := func() error {
		if stream != nil {
			return nil
		}
		stream = openai.NewEventWriter(w)
		first := chunk(openai.Delta{Role: "assistant"}, nil)
		first.Citations = cites
		return stream.Send(first)
	}
	res, filtered, he := s.run(r.Context(), req, func(text string, think bool) error {
		if err := begin(); err != nil {
			return err
		}
		if think {
			return stream.Send(chunk(openai.Delta{ReasoningContent: text}, nil))
		}
		answer.WriteString(text)
		return stream.Send(chunk(openai.Delta{Content: text}, nil))
	})
	if he != nil {
		if stream == nil {
			he.write(w)
			return
		}
		if he.status != 499 {
			stream.Send(openai.NewError(he.typ, he.msg, "", he.code))
			stream.Done()
		}
		return
	}
	if begin() != nil {
		return
	}
	finish := finishReasonFrom(res.FinishReason)
	if filtered {
		finish = openai.FinishContentFilter
	}
	last := chunk(openai.Delta{}, &finish)
	if len(cites) > 0 {
		for i, c := range rag.Cited(answer.String(), len(cites)) {
			cites[i].Cited = c
		}
		last.Citations = cites
	}
	stream.Send(last)
	if cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage {
		u := openai.ChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []openai.ChunkChoice{}, Usage: usageFrom(res)}
		stream.Send(u)
	}
	stream.Done()
}

func (s *Server) handleCompletion(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	var cr openai.CompletionRequest
	if err := openai.Decode(body, &cr); err != nil {
		writeRequestError(w, err)
		return
	}
	if kb, he := s.checkModel(cr.Model); he != nil || kb != "" {
		if he == nil {
			he = &httpError{http.StatusBadRequest, openai.TypeInvalidRequest,
				"knowledge bases answer through /v1/chat/completions", "model"}
		}
		he.write(w)
		return
	}
	req, err := completionToLLM(&cr, s.cfg.DefaultSampling)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	if s.policy != nil && len(req.PromptTokens) > 0 {
		// Token ids are text in another spelling: screen what they decode
		// to, as the text would be. A masked prompt goes on as text.
		text, he := s.decodePrompt(req.PromptTokens)
		if he != nil {
			he.write(w)
			return
		}
		one := []llm.Message{{Role: "user", Content: text}}
		if he := s.screenInput(one); he != nil {
			he.write(w)
			return
		}
		if one[0].Content != text {
			req.Prompt, req.PromptTokens = one[0].Content, nil
		}
	}
	if s.policy != nil && req.Prompt != "" {
		one := []llm.Message{{Role: "user", Content: req.Prompt}}
		if he := s.screenInput(one); he != nil {
			he.write(w)
			return
		}
		req.Prompt = one[0].Content
	}
	model := cr.Model
	if model == "" {
		model = s.cfg.ModelName
	}
	id, created := newID("cmpl-"), time.Now().Unix()
	// A raw completion has no reasoning field: reasoning text is returned
	// inline between its markers, as the model wrote it.
	var inThink bool
	wrap := func(text string, think bool) string {
		switch {
		case think && !inThink:
			inThink = true
			return "<think>\n" + text
		case !think && inThink:
			inThink = false
			return "\n</think>\n\n" + text
		}
		return text
	}
	completion := func(text string, finish *string) openai.CompletionResponse {
		return openai.CompletionResponse{ID: id, Object: "text_completion", Created: created, Model: model,
			Choices: []openai.CompletionChoice{{Index: 0, Text: text, FinishReason: finish}}}
	}
	if !cr.Stream {
		var out strings.Builder
		res, filtered, he := s.run(r.Context(), req, func(text string, think bool) error {
			out.WriteString(wrap(text, think))
			return nil
		})
		if he != nil {
			he.write(w)
			return
		}
		finish := finishReasonFrom(res.FinishReason)
		if filtered {
			finish = openai.FinishContentFilter
		}
		resp := completion(out.String(), &finish)
		resp.Usage = usageFrom(res)
		writeJSON(w, http.StatusOK, resp)
		return
	}
	var stream *openai.EventWriter
	res, filtered, he := s.run(r.Context(), req, func(text string, think bool) error {
		if stream == nil {
			stream = openai.NewEventWriter(w)
		}
		return stream.Send(completion(wrap(text, think), nil))
	})
	if he != nil {
		if stream == nil {
			he.write(w)
		} else if he.status != 499 {
			stream.Send(openai.NewError(he.typ, he.msg, "", he.code))
			stream.Done()
		}
		return
	}
	if stream == nil {
		stream = openai.NewEventWriter(w)
	}
	finish := finishReasonFrom(res.FinishReason)
	if filtered {
		finish = openai.FinishContentFilter
	}
	stream.Send(completion("", &finish))
	if cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage {
		u := openai.CompletionResponse{ID: id, Object: "text_completion", Created: created, Model: model,
			Choices: []openai.CompletionChoice{}, Usage: usageFrom(res)}
		stream.Send(u)
	}
	stream.Done()
}

// tokenizerEngine is an engine that can say what token ids spell (a local
// model).
type tokenizerEngine interface {
	Tokenizer() llm.Tokenizer
}

// decodePrompt turns a token-id prompt back into text for the input
// guard. An engine that cannot decode (a remote backend) gets no token-id
// prompts while the guard is on: they would pass unscreened.
func (s *Server) decodePrompt(ids []int) (string, *httpError) {
	te, ok := s.cfg.Engine.(tokenizerEngine)
	if !ok || te.Tokenizer() == nil {
		return "", &httpError{http.StatusBadRequest, openai.TypeInvalidRequest,
			"token-id prompts cannot be screened with this backend: send the prompt as text", "unsupported_prompt"}
	}
	tok := te.Tokenizer()
	var b []byte
	for i, id := range ids {
		if id < 0 || id >= tok.VocabSize() {
			return "", &httpError{http.StatusBadRequest, openai.TypeInvalidRequest,
				fmt.Sprintf("prompt[%d]: token id %d is outside the vocabulary (0..%d)", i, id, tok.VocabSize()-1), "invalid_prompt"}
		}
		b = append(b, tok.TokenBytes(id)...)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}
