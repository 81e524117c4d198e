package server

import (
	"strings"
	"unicode/utf8"

	"ragtune/guard"
)

// streamGuard applies the output policy to streamed text. A finding (a
// phone number, a sensitive phrase) may straddle tokens, so text is held
// back and released a segment at a time: up to the end of a sentence or
// line, or at a space once a segment grows past maxHold bytes. Each segment
// is checked on its own; a masked segment is released masked, and a
// refused one is never released: the generation ends with
// finish_reason "content_filter". Terms that span a sentence end are
// missed; the policy's terms and detectors do not span one.
type streamGuard struct {
	policy  *guard.Policy
	pending strings.Builder
	refused bool
	found   int // findings acted on (masked or refused)
}

const maxHold = 256

// push adds text and returns what may be shown now.
func (g *streamGuard) push(text string) string {
	if g.refused {
		return ""
	}
	g.pending.WriteString(text)
	p := g.pending.String()
	cut := segmentEnd(p)
	if cut <= 0 {
		return ""
	}
	g.pending.Reset()
	g.pending.WriteString(p[cut:])
	return g.check(p[:cut])
}

// flush releases the rest at the end of the generation.
func (g *streamGuard) flush() string {
	if g.refused {
		return ""
	}
	p := g.pending.String()
	g.pending.Reset()
	return g.check(p)
}

func (g *streamGuard) check(seg string) string {
	if seg == "" || g.policy == nil {
		return seg
	}
	r := g.policy.Check(guard.StageOutput, seg)
	for _, f := range r.Findings {
		if f.Action != guard.Allow {
			g.found++
		}
	}
	switch r.Action {
	case guard.Refuse:
		g.refused = true
		return ""
	case guard.Mask:
		return r.Text
	}
	return seg
}

// segmentEnd is the byte length of the releasable prefix of p: through the
// last sentence end or newline, else through the last space once p is
// longer than maxHold, else everything when p is far too long to hold.
func segmentEnd(p string) int {
	cut := strings.LastIndexAny(p, "\n。！？!?；;")
	if cut >= 0 {
		// An ASCII '.' '!' '?' inside a number or address ("3.14",
		// "a@b.com") is not a sentence end; require a space or newline
		// after ASCII punctuation, which the last byte cannot show yet.
		_, size := utf8.DecodeRuneInString(p[cut:])
		if c := p[cut]; (c == '!' || c == '?' || c == ';') && cut+size == len(p) {
			cut = strings.LastIndexAny(p[:cut], "\n。！？；")
			if cut >= 0 {
				_, size = utf8.DecodeRuneInString(p[cut:])
			}
		}
		if cut >= 0 {
			return cut + size
		}
	}
	if len(p) > maxHold {
		if sp := strings.LastIndexByte(p, ' '); sp > 0 {
			return sp + 1
		}
		if len(p) > 4*maxHold {
			// No boundary at all: release all but a character's tail.
			k := len(p) - utf8.UTFMax
			for k > 0 && !utf8.RuneStart(p[k]) {
				k--
			}
			return k
		}
	}
	return 0
}
