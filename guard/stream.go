package guard

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Stream applies a policy to text that arrives in pieces (a model's
// tokens) and releases it in segments, each checked as a whole, so that a
// finding split across pieces is still found. Text may come in several
// parts that are one text for detection (a model's reasoning and its
// answer): a finding that spans parts is masked in each, and once a
// segment is refused nothing more is released, in any part.
//
// Segmentation never splits what a detector reports. Text is released:
//
//   - up to a sentence end (。！？； or . ! ? ; before white space, or a
//     line break) when no detector is half-way through something there:
//     no lexicon term is open (Matcher.OpenFrom), no digit precedes it,
//     nothing found crosses it, and streamLookahead bytes follow it;
//   - otherwise up to a space or punctuation at least streamWindow bytes
//     before the end (streamWindow covers the longest finding the
//     detectors report, links aside), never inside a finding;
//   - and when streamMaxHold bytes arrive without either, at
//     streamWindow bytes before the end, moved back to the start of any
//     finding it would cut (findings longer than the window, which only
//     links can be, are cut, so the pending text stays bounded).
//
// A Stream is not safe for concurrent use.
type Stream struct {
	policy  *Policy
	stage   Stage
	pending strings.Builder
	parts   []partStart // where each part begins in pending, in order
	refused bool
	acted   int
}

// Piece is released text of one part.
type Piece struct {
	Part int
	Text string
}

type partStart struct{ part, at int }

const (
	// streamWindow is held back from the end when no sentence end can be
	// used: more than the longest number (an ID card with full-width
	// digits and separators, about 100 bytes), e-mail address (the
	// detector stops at 254 bytes, rarely reached) or lexicon term with
	// its gaps.
	streamWindow = 256
	// streamLookahead is the text that must follow a sentence end before
	// it is used, so a link or address continuing past it is seen whole.
	streamLookahead = 32
	// streamMaxHold forces a cut in text without spaces or punctuation.
	streamMaxHold = 1024
)

// NewStream starts a stream checked at stage. A nil policy passes text
// through at once.
func (p *Policy) NewStream(stage Stage) *Stream { return &Stream{policy: p, stage: stage} }

// Refused reports whether a segment was refused; nothing is released
// after that.
func (s *Stream) Refused() bool { return s.refused }

// Acted returns how many findings were masked or refused so far.
func (s *Stream) Acted() int { return s.acted }

// Push adds text to a part and returns what may be shown now.
func (s *Stream) Push(part int, text string) []Piece {
	if s.refused || text == "" {
		return nil
	}
	if s.policy == nil {
		return []Piece{{part, text}}
	}
	if n := len(s.parts); n == 0 || s.parts[n-1].part != part {
		s.parts = append(s.parts, partStart{part, s.pending.Len()})
	}
	s.pending.WriteString(text)
	p := s.pending.String()
	cut := s.cut(p)
	if cut <= 0 {
		return nil
	}
	return s.release(p, cut)
}

// Flush releases what is held, at the end of the text.
func (s *Stream) Flush() []Piece {
	if s.refused || s.pending.Len() == 0 {
		return nil
	}
	p := s.pending.String()
	return s.release(p, len(p))
}

// release checks p[:cut], keeps p[cut:] pending and returns the released
// text split by part.
func (s *Stream) release(p string, cut int) []Piece {
	seg := p[:cut]
	s.pending.Reset()
	s.pending.WriteString(p[cut:])
	var segParts, rest []partStart
	for i, ps := range s.parts {
		end := len(p)
		if i+1 < len(s.parts) {
			end = s.parts[i+1].at
		}
		if ps.at < cut {
			segParts = append(segParts, ps)
		}
		if end > cut {
			rest = append(rest, partStart{ps.part, max(ps.at-cut, 0)})
		}
	}
	s.parts = rest
	r := s.policy.Check(s.stage, seg)
	var masked []Finding
	for _, f := range r.Findings {
		if f.Action >= Mask {
			s.acted++
			masked = append(masked, f)
		}
	}
	if r.Action == Refuse {
		s.refused = true
		s.pending.Reset()
		s.parts = nil
		return nil
	}
	var out []Piece
	for i, ps := range segParts {
		end := cut
		if i+1 < len(segParts) {
			end = segParts[i+1].at
		}
		if end <= ps.at {
			continue
		}
		var text string
		if len(segParts) == 1 {
			text = r.Text
		} else {
			text = s.policy.applyPart(seg, ps.at, end, masked)
		}
		if text != "" {
			out = append(out, Piece{ps.part, text})
		}
	}
	return out
}

// cut returns how much of p may be released now (0: nothing).
func (s *Stream) cut(p string) int {
	var found []Finding
	scanned := false
	findings := func() []Finding {
		if !scanned {
			found, scanned = s.policy.Scan(p), true
		}
		return found
	}
	crosses := func(b int) bool {
		for _, f := range findings() {
			if f.Start < b && b < f.End {
				return true
			}
		}
		return false
	}
	// A sentence end where nothing is half-way: the latest of the last
	// few, to bound the work per piece.
	best := 0
	tries := 0
	for b := len(p) - streamLookahead; b > 0 && tries < 4; {
		b = lastSentenceEnd(p, b)
		if b <= 0 {
			break
		}
		tries++
		if s.inert(p, b) && !crosses(b) {
			best = b
			break
		}
		b--
	}
	if len(p) <= streamWindow {
		return best
	}
	target := len(p) - streamWindow
	if best >= target {
		return best
	}
	for b := target; b > best && b > target-streamMaxHold; b-- {
		if isSoftBoundary(p, b) && !crosses(b) {
			return b
		}
	}
	if len(p) < streamMaxHold {
		return best
	}
	// No boundary at all: cut at the window, outside every finding that
	// fits in it. One that does not (a link of kilobytes) is cut: holding
	// it whole would let one answer grow the pending text, and the work
	// per token, without bound.
	b := target
	for moved := true; moved && b > 0; {
		moved = false
		for _, f := range findings() {
			if f.Start < b && b < f.End && f.End-f.Start <= streamWindow {
				b, moved = f.Start, true
			}
		}
	}
	if b <= best {
		return best
	}
	for b > 0 && !utf8.RuneStart(p[b]) {
		b--
	}
	return b
}

// inert reports whether no detector can be half-way through something at
// offset b: no lexicon term is open and the last character before the
// sentence end is not a digit that a number could continue from.
func (s *Stream) inert(p string, b int) bool {
	if s.policy.Lexicon != nil && s.policy.Lexicon.matcher.OpenFrom(p[:b]) < b {
		return false
	}
	q := strings.TrimRightFunc(p[:b], unicode.IsSpace)
	q = strings.TrimRightFunc(q, func(r rune) bool { return unicode.IsPunct(r) })
	r, _ := utf8.DecodeLastRuneInString(q)
	return !isDigitLike(r)
}

// lastSentenceEnd returns the largest offset ≤ b that follows a sentence
// end, or 0: after 。！？； or a line break, or after white space that
// follows . ! ? ; preceded by a letter (not "3. 14", not "a . com").
func lastSentenceEnd(p string, b int) int {
	for b > 0 {
		r, size := utf8.DecodeLastRuneInString(p[:b])
		switch r {
		case '\n', '。', '！', '？', '；':
			if r != '\n' {
				// "example。com" is a link: a CJK stop after a Latin
				// word does not end a sentence for us.
				prev, _ := utf8.DecodeLastRuneInString(p[:b-size])
				if prev < utf8.RuneSelf && isASCIIWord(prev) {
					break
				}
			}
			return b
		case ' ', '\t':
			q := p[:b-size]
			stop, n := utf8.DecodeLastRuneInString(q)
			if stop == '.' || stop == '!' || stop == '?' || stop == ';' {
				prev, _ := utf8.DecodeLastRuneInString(q[:len(q)-n])
				if unicode.IsLetter(prev) {
					return b
				}
			}
		}
		b -= size
	}
	return 0
}

// isSoftBoundary reports an offset after white space or punctuation.
func isSoftBoundary(p string, b int) bool {
	if b <= 0 || b >= len(p) || !utf8.RuneStart(p[b]) {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(p[:b])
	return unicode.IsSpace(r) || unicode.IsPunct(r)
}

// isDigitLike reports characters a number may continue from.
func isDigitLike(r rune) bool {
	return r >= '0' && r <= '9' || r >= '０' && r <= '９' || r == 'X' || r == 'x' || r == 'Ｘ' || chineseDigit(r) >= 0
}

// applyPart masks text[a:b] with the findings clipped to it; a finding
// cut by the part boundary is masked whole with stars in each part (a
// partial mask of each half would show more than of the whole).
func (p *Policy) applyPart(text string, a, b int, fs []Finding) string {
	var clipped []Finding
	for _, f := range fs {
		s, e := max(f.Start, a), min(f.End, b)
		if s >= e {
			continue
		}
		g := f
		g.Start, g.End = s-a, e-a
		if s != f.Start || e != f.End {
			g.cut = true
		}
		clipped = append(clipped, g)
	}
	return p.apply(text[a:b], clipped)
}
