package llm

import (
	"strings"
	"unicode"
)

// The reasoning markers of DeepSeek-R1 and the Qwen reasoning models.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

// phase of a generation's text relative to its reasoning block.
type phase int

const (
	phaseStart  phase = iota // nothing shown yet; "<think>" may still open reasoning
	phaseThink               // inside <think>…</think>
	phaseAnswer              // after the reasoning, or no reasoning at all
)

// initialPhase tells where generation starts from the prompt's tail. The R1
// chat template ends its generation prompt with "<think>\n", so the model
// begins inside the reasoning; a prompt ending in a closed, empty block
// (DisableThinking) begins in the answer.
func initialPhase(prompt string) phase {
	open, close := strings.LastIndex(prompt, thinkOpen), strings.LastIndex(prompt, thinkClose)
	switch {
	case open > close:
		return phaseThink
	case close >= 0 && strings.TrimRightFunc(prompt, unicode.IsSpace) == prompt[:close+len(thinkClose)]:
		return phaseAnswer
	}
	return phaseStart
}

// thinkSplitter separates streamed text into reasoning and answer. Only one
// reasoning block is recognized, and only at the start of the output: a
// "<think>" in the middle of an answer is answer text. Whitespace at the
// start of each part and at the end of the reasoning is dropped (R1 writes
// "\n" after <think> and "\n\n" after </think>), so Result.Reasoning and
// Result.Text hold just the words; text that might be the start of a marker
// (or trailing reasoning whitespace) is held back until it is decided.
type thinkSplitter struct {
	phase   phase
	pending string
	started bool // the current part has shown non-space text
}

func newThinkSplitter(p phase) thinkSplitter { return thinkSplitter{phase: p} }

// push adds text and returns the reasoning and answer text now safe to
// show. Reasoning always comes before the answer within one call.
func (t *thinkSplitter) push(text string) (reasoning, answer string) {
	p := t.pending + text
	t.pending = ""
	if t.phase == phaseStart {
		trimmed := strings.TrimLeftFunc(p, unicode.IsSpace)
		switch {
		case strings.HasPrefix(trimmed, thinkOpen):
			t.phase = phaseThink
			p = trimmed[len(thinkOpen):]
		case strings.HasPrefix(thinkOpen, trimmed): // "", "<", "<th", … undecided
			t.pending = p
			return "", ""
		default:
			t.phase = phaseAnswer
		}
	}
	if t.phase == phaseThink {
		i := strings.Index(p, thinkClose)
		if i < 0 {
			keep := partialSuffix(p, thinkClose)
			body := p[:len(p)-keep]
			// Trailing spaces may turn out to end the reasoning: hold them.
			shown := strings.TrimRightFunc(body, unicode.IsSpace)
			t.pending = p[len(shown):]
			return t.lead(shown), ""
		}
		reasoning = t.lead(strings.TrimRightFunc(p[:i], unicode.IsSpace))
		t.phase, t.started = phaseAnswer, false
		p = p[i+len(thinkClose):]
	}
	return reasoning, t.lead(p)
}

// lead drops whitespace before the first visible text of a part.
func (t *thinkSplitter) lead(s string) string {
	if !t.started {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		t.started = s != ""
	}
	return s
}

// flush returns whatever is held back when the generation ends. Reasoning
// cut off before "</think>" stays reasoning; undecided start text is answer.
func (t *thinkSplitter) flush() (reasoning, answer string) {
	p := t.pending
	t.pending = ""
	switch t.phase {
	case phaseThink:
		return t.lead(strings.TrimRightFunc(p, unicode.IsSpace)), ""
	default:
		return "", t.lead(p)
	}
}

// partialSuffix returns the length of the longest proper prefix of tag
// that s ends with.
func partialSuffix(s, tag string) int {
	for k := min(len(tag)-1, len(s)); k > 0; k-- {
		if strings.HasSuffix(s, tag[:k]) {
			return k
		}
	}
	return 0
}
