package server

import (
	"strings"

	"ragtune/guard"
)

// Parts of a generation's text for the output guard: the reasoning and the
// answer are one text to the detectors (guard.Stream), so a number split
// between them is masked in both, and a refusal in either ends both.
const (
	partAnswer    = 0
	partReasoning = 1
)

// streamGuard applies the output policy to one streamed text: a
// guard.Stream with a single part (see guard.Stream for how text is held
// back and segmented so that no finding is split).
type streamGuard struct {
	policy *guard.Policy
	stream *guard.Stream
}

func (g *streamGuard) get() *guard.Stream {
	if g.stream == nil {
		g.stream = g.policy.NewStream(guard.StageOutput)
	}
	return g.stream
}

// push adds text and returns what may be shown now.
func (g *streamGuard) push(text string) string { return joinPieces(g.get().Push(0, text)) }

// flush releases the rest at the end of the text.
func (g *streamGuard) flush() string { return joinPieces(g.get().Flush()) }

func joinPieces(ps []guard.Piece) string {
	if len(ps) == 1 {
		return ps[0].Text
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Text)
	}
	return b.String()
}
