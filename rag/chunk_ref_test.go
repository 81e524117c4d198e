package rag

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file keeps the chunker as it was before it was made linear (commit
// 26519c1), unchanged but for names, as the reference the new one must
// match byte for byte: TestChunkerMatchesReference compares them on a
// varied corpus. It is quadratic on long unpunctuated text; keep the
// inputs small.

// Split cuts text into chunks. markdown turns on heading tracking: each
// chunk records the path of headings above it and heading lines are not
// repeated inside chunk bodies.
func refSplit(c *Chunker, source, title, text string, markdown bool) []Chunk {
	var sections []section
	if markdown {
		sections = refMarkdownSections(text)
	} else {
		sections = []section{{span: span{0, len(text)}}}
	}
	var chunks []Chunk
	runeAt := newRefRuneCounter(text)
	for _, sec := range sections {
		for _, sp := range refSplitSpan(c, text, sec.span) {
			sp = refTrimSpan(text, sp)
			if sp.start >= sp.end {
				continue
			}
			ch := Chunk{
				Source:    source,
				Title:     title,
				Index:     len(chunks),
				Text:      text[sp.start:sp.end],
				ByteStart: sp.start,
				ByteEnd:   sp.end,
				CharStart: runeAt.at(sp.start),
				CharEnd:   runeAt.at(sp.end),
			}
			if !c.NoHeadingContext && len(sec.headings) > 0 {
				ch.Headings = append([]string(nil), sec.headings...)
			}
			chunks = append(chunks, ch)
		}
	}
	return chunks
}

// splitSpan returns chunk spans covering sp in order.
func refSplitSpan(c *Chunker, text string, sp span) []span {
	pieces := refPieces(c, text, sp, 0)
	return refPack(c, text, pieces)
}

// pieces splits sp into pieces each no larger than Size, using the
// coarsest boundary that works and recursing into oversize pieces.
func refPieces(c *Chunker, text string, sp span, level int) []span {
	if c.count(text[sp.start:sp.end]) <= c.size() {
		return []span{sp}
	}
	var parts []span
	switch level {
	case levelParagraph:
		parts = refCutAfter(text, sp, refParagraphEnd)
	case levelSentence:
		parts = refCutAfter(text, sp, refSentenceEnd)
	case levelClause:
		parts = refCutAfter(text, sp, refClauseEnd)
	default:
		return refHardCut(c, text, sp)
	}
	if len(parts) <= 1 {
		return refPieces(c, text, sp, level+1)
	}
	var out []span
	for _, p := range parts {
		out = append(out, refPieces(c, text, p, level+1)...)
	}
	return out
}

// hardCut splits at rune boundaries into pieces of at most Size units.
func refHardCut(c *Chunker, text string, sp span) []span {
	var out []span
	start := sp.start
	for start < sp.end {
		// Largest prefix that fits, found by binary search over rune
		// boundaries so a token-count function is called O(log n) times.
		bounds := refRuneBounds(text[start:sp.end])
		lo, hi := 1, len(bounds)-1 // at least one rune per piece
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if c.count(text[start:start+bounds[mid]]) <= c.size() {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		end := start + bounds[lo]
		out = append(out, span{start, end})
		start = end
	}
	return out
}

// refRuneBounds returns the byte offsets of every rune boundary in s,
// including 0 and len(s).
func refRuneBounds(s string) []int {
	b := make([]int, 0, len(s)+1)
	for i := range s {
		b = append(b, i)
	}
	return append(b, len(s))
}

// pack merges consecutive pieces greedily into chunks of at most Size
// units, starting each new chunk with trailing pieces of the previous one
// worth at most Overlap units.
func refPack(c *Chunker, text string, pieces []span) []span {
	if len(pieces) == 0 {
		return nil
	}
	counts := make([]int, len(pieces))
	for i, p := range pieces {
		counts[i] = c.count(text[p.start:p.end])
	}
	var out []span
	first, total := 0, 0
	for i := range pieces {
		if i > first && total+counts[i] > c.size() {
			out = append(out, span{pieces[first].start, pieces[i-1].end})
			// Walk back from i over pieces that fit in the overlap budget
			// while leaving room for piece i itself.
			newFirst, carried := i, 0
			for j := i - 1; j > first && c.Overlap > 0; j-- {
				if carried+counts[j] > c.Overlap || carried+counts[j]+counts[i] > c.size() {
					break
				}
				carried += counts[j]
				newFirst = j
			}
			first, total = newFirst, carried
		}
		total += counts[i]
	}
	return append(out, span{pieces[first].start, pieces[len(pieces)-1].end})
}

// refCutAfter splits sp after every position where end reports a boundary.
// end receives the text and the byte offset just past a rune and returns
// the offset where the piece should end (or -1 for no boundary there).
func refCutAfter(text string, sp span, end func(text string, i, limit int) int) []span {
	var out []span
	start := sp.start
	for i := sp.start; i < sp.end; {
		_, size := utf8.DecodeRuneInString(text[i:sp.end])
		next := i + size
		if e := end(text, next, sp.end); e > 0 {
			if e > start {
				out = append(out, span{start, e})
			}
			start = e
			if e > next {
				next = e
			}
		}
		i = next
	}
	if start < sp.end {
		out = append(out, span{start, sp.end})
	}
	return out
}

// refParagraphEnd finds a blank line: a newline followed by optional spaces
// and another newline. The blank lines stay with the preceding paragraph.
func refParagraphEnd(text string, i, limit int) int {
	if i == 0 || text[i-1] != '\n' {
		return -1
	}
	j := i
	for j < limit && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r') {
		j++
	}
	if j >= limit || text[j] != '\n' {
		return -1
	}
	for j < limit && (text[j] == '\n' || text[j] == ' ' || text[j] == '\t' || text[j] == '\r') {
		j++
	}
	return j
}

// refSentenceEnd cuts after Chinese and full-width sentence punctuation, after
// ASCII ! ? ; and after a period followed by whitespace (so "3.14" and
// "e.g.x" stay whole). Closing quotes and brackets and following spaces
// stay with the sentence they close.
func refSentenceEnd(text string, i, limit int) int {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	switch r {
	case '。', '！', '？', '；', '!', '?', '\n':
	case '.', ';':
		if i < limit {
			n, _ := utf8.DecodeRuneInString(text[i:limit])
			if !unicode.IsSpace(n) {
				return -1
			}
		}
	default:
		return -1
	}
	return refExtendClosers(text, i, limit)
}

// refClauseEnd cuts after commas and enumeration commas.
func refClauseEnd(text string, i, limit int) int {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	switch r {
	case '，', ',', '、', '：', ':':
		return refExtendClosers(text, i, limit)
	}
	return -1
}

// refExtendClosers moves a cut past closing quotes, brackets and spaces.
func refExtendClosers(text string, i, limit int) int {
	for i < limit {
		r, size := utf8.DecodeRuneInString(text[i:limit])
		if !strings.ContainsRune("”’」』）)]】》\"' \t", r) {
			break
		}
		i += size
	}
	return i
}

// refTrimSpan shrinks sp past leading and trailing white space.
func refTrimSpan(text string, sp span) span {
	for sp.start < sp.end {
		r, size := utf8.DecodeRuneInString(text[sp.start:sp.end])
		if !unicode.IsSpace(r) {
			break
		}
		sp.start += size
	}
	for sp.end > sp.start {
		r, size := utf8.DecodeLastRuneInString(text[sp.start:sp.end])
		if !unicode.IsSpace(r) {
			break
		}
		sp.end -= size
	}
	return sp
}

// refMarkdownSections splits Markdown into bodies between ATX headings
// (# … ######), ignoring '#' lines inside fenced code blocks. Heading
// lines are excluded from bodies; they become each section's path.
func refMarkdownSections(text string) []section {
	var out []section
	var path []string
	var levels []int
	bodyStart := 0
	inFence := false
	for lineStart := 0; lineStart < len(text); {
		lineEnd := strings.IndexByte(text[lineStart:], '\n')
		next := len(text)
		if lineEnd < 0 {
			lineEnd = len(text)
		} else {
			lineEnd += lineStart
			next = lineEnd + 1
		}
		line := strings.TrimRight(text[lineStart:lineEnd], "\r")
		trimmed := strings.TrimLeft(line, " ")
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			inFence = !inFence
		} else if level, title := refAtxHeading(line); !inFence && level > 0 {
			if lineStart > bodyStart {
				out = append(out, section{span{bodyStart, lineStart}, append([]string(nil), path...)})
			}
			for len(levels) > 0 && levels[len(levels)-1] >= level {
				levels, path = levels[:len(levels)-1], path[:len(path)-1]
			}
			levels, path = append(levels, level), append(path, title)
			bodyStart = next
		}
		lineStart = next
	}
	if bodyStart < len(text) {
		out = append(out, section{span{bodyStart, len(text)}, append([]string(nil), path...)})
	}
	return out
}

// refAtxHeading returns the level and text of a Markdown ATX heading line,
// or 0 when line is not one.
func refAtxHeading(line string) (int, string) {
	if len(line)-len(strings.TrimLeft(line, " ")) > 3 {
		return 0, ""
	}
	line = strings.TrimLeft(line, " ")
	level := 0
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(line) && line[level] != ' ' && line[level] != '\t') {
		return 0, ""
	}
	title := strings.TrimSpace(line[level:])
	title = strings.TrimSpace(strings.TrimRight(title, "#"))
	if title == "" {
		return 0, ""
	}
	return level, title
}

// refRuneCounter converts increasing byte offsets to code-point offsets in
// amortized constant time.
type refRuneCounter struct {
	text        string
	byteOff, ch int
}

func newRefRuneCounter(text string) *refRuneCounter { return &refRuneCounter{text: text} }

func (r *refRuneCounter) at(off int) int {
	if off < r.byteOff {
		r.byteOff, r.ch = 0, 0
	}
	r.ch += utf8.RuneCountInString(r.text[r.byteOff:off])
	r.byteOff = off
	return r.ch
}
