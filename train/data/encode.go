package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Renderer renders a conversation through a chat template
// (chat.Template.Render is one).
type Renderer func(msgs []Message, addGenerationPrompt bool) (string, error)

// Encoder turns text into token ids; special-token text in it (the
// template's BOS and turn markers) must become the special ids, as
// tokenizer.BPE.Encode does. addSpecial is passed false: the template
// already writes BOS where the model expects it.
type Encoder interface {
	Encode(text string, addSpecial bool) []int
}

// Sample is a tokenized example with HF-style labels: Labels[i] is
// Tokens[i] where the loss applies and -100 elsewhere.
type Sample struct {
	Tokens []int32
	Labels []int32
	Source string
}

// sentinel stands in for the final assistant turn while rendering, so the
// template's own markup around it (turn header before, end-of-turn after)
// is kept while its history handling (R1 strips everything before
// </think>) cannot touch the reasoning we train on.
const sentinel = "\x00ragtune-assistant-target\x00"

// emptyThink is an R1 reasoning block with nothing in it.
const emptyThink = "<think>\n\n</think>\n\n"

// ErrTooLong means the prompt alone fills the maximum sequence length, so
// no target token would remain.
var ErrTooLong = errors.New("prompt is longer than the maximum sequence length")

// Encode renders ex and tokenizes it. Tokens of the final assistant turn
// (its <think> block, answer and the template's end-of-turn marker) carry
// labels; everything before is masked. Sequences longer than maxSeq are cut
// at the end (maxSeq <= 0: no limit).
func Encode(ex Example, render Renderer, enc Encoder, maxSeq int) (Sample, error) {
	n := len(ex.Messages)
	if n == 0 || ex.Messages[n-1].Role != "assistant" {
		return Sample{}, fmt.Errorf("%s: the last message must be the assistant's", ex.Source)
	}
	msgs := append([]Message(nil), ex.Messages...)
	target := AssistantTarget(msgs[n-1])
	// R1-style templates open <think> in every generation prompt, so a
	// model trained on bare answers would, at inference, write its answer
	// inside the reasoning. Without reasoning in the data, the prompt side
	// gets the empty block that llm's DisableThinking prefills, masked: the
	// model learns to answer after it, not to emit it (a small model taught
	// to emit it also learns to repeat </think>).
	emptyBlock := ""
	if strings.TrimSpace(msgs[n-1].ReasoningContent) == "" {
		if gp, err := render(msgs[:n-1], true); err == nil && strings.HasSuffix(gp, "<think>\n") {
			emptyBlock = emptyThink
		}
	}
	msgs[n-1] = Message{Role: "assistant", Content: sentinel}
	text, err := render(msgs, false)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: render chat template: %w", ex.Source, err)
	}
	prefix, suffix, ok := strings.Cut(text, sentinel)
	if !ok || strings.Contains(suffix, sentinel) {
		return Sample{}, fmt.Errorf("%s: the chat template does not render the assistant message once", ex.Source)
	}
	p := enc.Encode(prefix+emptyBlock, false)
	t := enc.Encode(target+suffix, false)
	s := Sample{Source: ex.Source, Tokens: make([]int32, 0, len(p)+len(t)), Labels: make([]int32, 0, len(p)+len(t))}
	for _, id := range p {
		s.Tokens = append(s.Tokens, int32(id))
		s.Labels = append(s.Labels, -100)
	}
	for _, id := range t {
		s.Tokens = append(s.Tokens, int32(id))
		s.Labels = append(s.Labels, int32(id))
	}
	if maxSeq > 0 && len(s.Tokens) > maxSeq {
		if len(p)+1 >= maxSeq {
			return Sample{}, fmt.Errorf("%s: %w (%d prompt tokens, --max-seq %d)", ex.Source, ErrTooLong, len(p), maxSeq)
		}
		s.Tokens, s.Labels = s.Tokens[:maxSeq], s.Labels[:maxSeq]
	}
	return s, nil
}

// EncodeAll encodes every example; examples whose prompt does not fit are
// dropped and counted, other errors stop. Plain-text documents
// (Example.Text) are packed into windows by EncodeText instead.
func EncodeAll(exs []Example, render Renderer, enc Encoder, maxSeq int) (out []Sample, tooLong int, err error) {
	if hasText(exs) {
		out, err = EncodeText(exs, enc, maxSeq)
		return out, 0, err
	}
	for _, ex := range exs {
		s, err := Encode(ex, render, enc, maxSeq)
		if errors.Is(err, ErrTooLong) {
			tooLong++
			continue
		}
		if err != nil {
			return nil, tooLong, err
		}
		out = append(out, s)
	}
	return out, tooLong, nil
}

// Split shuffles samples with seed and holds out a fraction (at least one
// sample when frac > 0 and there are two or more) for validation. The same
// seed always gives the same split.
func Split(samples []Sample, frac float64, seed uint64) (trainSet, val []Sample) {
	idx := make([]int, len(samples))
	for i := range idx {
		idx[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 0x5917))
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	nv := int(frac*float64(len(samples)) + 0.5)
	if frac > 0 && nv == 0 && len(samples) > 1 {
		nv = 1
	}
	if nv >= len(samples) {
		nv = len(samples) - 1
	}
	for k, i := range idx {
		if k < nv {
			val = append(val, samples[i])
		} else {
			trainSet = append(trainSet, samples[i])
		}
	}
	return trainSet, val
}
