package llm

import (
	"strings"
	"unicode/utf8"
)

// output turns generated text into Tokens and a Result: it splits the
// reasoning from the answer, cuts the answer at stop strings, and calls
// onToken for every non-empty piece. Every engine feeds its text through
// one, so streaming and the final Result agree by construction.
type output struct {
	think   thinkSplitter
	stop    stopMatcher
	onToken func(Token) error

	reasoning, answer strings.Builder
	stopped           bool // a stop string ended the answer
}

func newOutput(start phase, stops []string, onToken func(Token) error) *output {
	return &output{think: newThinkSplitter(start), stop: newStopMatcher(stops), onToken: onToken}
}

// push adds the text that token id completed. It returns onToken's error.
func (o *output) push(id int, text string) error {
	if o.stopped || text == "" {
		return nil
	}
	r, a := o.think.push(text)
	return o.emit(id, r, a)
}

// finish releases held-back text at the end of a generation that did not
// stop on a stop string.
func (o *output) finish() error {
	if o.stopped {
		return nil
	}
	r, a := o.think.flush()
	if err := o.emit(-1, r, a); err != nil || o.stopped {
		return err
	}
	return o.emitAnswer(-1, o.stop.flush())
}

func (o *output) emit(id int, reasoning, answer string) error {
	if reasoning != "" {
		o.reasoning.WriteString(reasoning)
		if o.onToken != nil {
			if err := o.onToken(Token{ID: id, Text: reasoning, Reasoning: true}); err != nil {
				return err
			}
		}
	}
	if answer == "" {
		return nil
	}
	a, stopped := o.stop.push(answer)
	o.stopped = stopped
	return o.emitAnswer(id, a)
}

func (o *output) emitAnswer(id int, a string) error {
	if a == "" {
		return nil
	}
	o.answer.WriteString(a)
	if o.onToken != nil {
		return o.onToken(Token{ID: id, Text: a})
	}
	return nil
}

// unclosed reports that the text ended inside the reasoning: the splitter
// is still in <think>, or (a server that splits the reasoning itself)
// reasoning came and no answer did.
func (o *output) unclosed() bool {
	return o.think.phase == phaseThink || (o.think.phase == phaseStart && o.reasoning.Len() > 0 && o.answer.Len() == 0)
}

// utf8Stream assembles token bytes into text. A byte-level token may end in
// the middle of a character (most Chinese characters span two tokens), so
// an incomplete tail is held until its character is complete; bytes that
// can never become UTF-8 come out as U+FFFD, so the text is always valid.
type utf8Stream struct{ pending []byte }

func (u *utf8Stream) add(b []byte) string {
	u.pending = append(u.pending, b...)
	p := u.pending
	// Fast path: all complete and valid.
	cut := len(p)
	for k := len(p) - 1; k >= 0 && k >= len(p)-utf8.UTFMax; k-- {
		if utf8.RuneStart(p[k]) {
			if !utf8.FullRune(p[k:]) {
				cut = k
			}
			break
		}
	}
	if cut == 0 {
		return ""
	}
	out := strings.ToValidUTF8(string(p[:cut]), "\uFFFD")
	u.pending = append(u.pending[:0], p[cut:]...)
	return out
}

// flush returns an incomplete character left at the end, as U+FFFD.
func (u *utf8Stream) flush() string {
	if len(u.pending) == 0 {
		return ""
	}
	out := strings.ToValidUTF8(string(u.pending), "\uFFFD")
	u.pending = u.pending[:0]
	return out
}
