package rag

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chunk is one retrievable piece of a document. Text is always the exact
// substring Source[ByteStart:ByteEnd] of the document text, so a citation
// can be highlighted in the original file.
type Chunk struct {
	Source    string   `json:"source"`
	Title     string   `json:"title,omitempty"`
	Headings  []string `json:"headings,omitempty"` // Markdown heading path, outermost first
	Index     int      `json:"index"`              // position of the chunk within its document
	Text      string   `json:"text"`
	ByteStart int      `json:"byte_start"`
	ByteEnd   int      `json:"byte_end"`
	CharStart int      `json:"char_start"` // in Unicode code points
	CharEnd   int      `json:"char_end"`
}

// ContextText is the text used for indexing and embedding: the heading
// path (or the title when there is none) followed by the chunk text, so a
// chunk under "## 安装" still matches a question about installation even
// when its own sentences never repeat the heading.
func (c Chunk) ContextText() string {
	var prefix string
	switch {
	case len(c.Headings) > 0:
		prefix = strings.Join(c.Headings, " > ")
	case c.Title != "":
		prefix = c.Title
	}
	if prefix == "" || strings.HasPrefix(c.Text, prefix) {
		return c.Text
	}
	return prefix + "\n" + c.Text
}

// Chunker splits documents into chunks of at most Size units with Overlap
// units repeated between neighbours. It prefers the largest natural
// boundary that fits: paragraphs, then sentences (。！？!?； and a period
// followed by a space), then clauses (，,、), and cuts inside a clause only
// when one clause alone is larger than Size.
type Chunker struct {
	Size    int // maximum chunk size in Count units; default 512
	Overlap int // units of trailing context repeated at the start of the next chunk

	// Count measures text in the unit Size is given in. Nil counts Unicode
	// code points; pass a tokenizer's length function to size in tokens.
	// It is assumed roughly additive over concatenation and never smaller
	// for a longer prefix of the same text (a hard cut searches for the
	// longest prefix that fits by galloping and bisection).
	Count func(string) int

	// NoHeadingContext leaves Markdown headings out of Chunk.Headings.
	NoHeadingContext bool
}

func (c *Chunker) size() int {
	if c.Size <= 0 {
		return 512
	}
	return c.Size
}

func (c *Chunker) count(s string) int {
	if c.Count == nil {
		return utf8.RuneCountInString(s)
	}
	return c.Count(s)
}

// span is a half-open byte range of the document text.
type span struct{ start, end int }

// Split cuts text into chunks. markdown turns on heading tracking: each
// chunk records the path of headings above it and heading lines are not
// repeated inside chunk bodies.
func (c *Chunker) Split(source, title, text string, markdown bool) []Chunk {
	chunks, _ := c.SplitContext(context.Background(), source, title, text, markdown)
	return chunks
}

// SplitContext is Split that stops early, returning ctx's error, when ctx
// is cancelled (an upload whose client went away). Its work is linear in
// the length of text.
func (c *Chunker) SplitContext(ctx context.Context, source, title, text string, markdown bool) ([]Chunk, error) {
	var sections []section
	if markdown {
		sections = markdownSections(text)
	} else {
		sections = []section{{span: span{0, len(text)}}}
	}
	var chunks []Chunk
	runeAt := newRuneCounter(text)
	for _, sec := range sections {
		spans := c.splitSpan(ctx, text, sec.span)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, sp := range spans {
			sp = trimSpan(text, sp)
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
	return chunks, nil
}

// splitSpan returns chunk spans covering sp in order (nothing useful once
// ctx is cancelled; the caller checks).
func (c *Chunker) splitSpan(ctx context.Context, text string, sp span) []span {
	pieces := c.pieces(ctx, text, sp, 0)
	return c.pack(text, pieces)
}

// level separators, coarsest first. Level 3 is a hard cut.
const (
	levelParagraph = iota
	levelSentence
	levelClause
	levelChars
)

// pieces splits sp into pieces each no larger than Size, using the
// coarsest boundary that works and recursing into oversize pieces. Each
// level measures every byte once and there are four levels, so the work
// is linear in the span.
func (c *Chunker) pieces(ctx context.Context, text string, sp span, level int) []span {
	if ctx.Err() != nil {
		return nil
	}
	if c.count(text[sp.start:sp.end]) <= c.size() {
		return []span{sp}
	}
	var parts []span
	switch level {
	case levelParagraph:
		parts = cutAfter(text, sp, paragraphEnd)
	case levelSentence:
		parts = cutAfter(text, sp, sentenceEnd)
	case levelClause:
		parts = cutAfter(text, sp, clauseEnd)
	default:
		return c.hardCut(ctx, text, sp)
	}
	if len(parts) <= 1 {
		return c.pieces(ctx, text, sp, level+1)
	}
	var out []span
	for _, p := range parts {
		out = append(out, c.pieces(ctx, text, p, level+1)...)
	}
	return out
}

// hardCut splits at rune boundaries into pieces of at most Size units,
// each the longest prefix of the rest that fits. The rune boundaries are
// found once for the whole span (finding them again for each piece made
// long unpunctuated text quadratic).
func (c *Chunker) hardCut(ctx context.Context, text string, sp span) []span {
	bounds := runeBounds(text[sp.start:sp.end])
	last := len(bounds) - 1 // bounds[last] is the end of the span
	var out []span
	for i := 0; i < last; {
		if len(out)%1024 == 1023 && ctx.Err() != nil {
			return nil
		}
		var j int
		if c.Count == nil {
			// Code points: the longest prefix that fits is exactly Size
			// runes (or the rest).
			j = min(i+c.size(), last)
		} else {
			j = i + c.longestFit(text[sp.start+bounds[i]:sp.end], bounds[i:], bounds[i])
		}
		out = append(out, span{sp.start + bounds[i], sp.start + bounds[j]})
		i = j
	}
	return out
}

// longestFit returns the largest k ≥ 1 such that the first k runes of s
// (bounds holds the rune boundaries of s offset by base, bounds[0] ==
// base) measure at most Size, or 1 when even two runes do not fit. It
// gallops from the start (1, 2, 4, ... runes) and then bisects, so it
// only ever measures prefixes up to twice the answer; a count that is
// monotone in the prefix length gives the same answer as bisecting over
// the whole of s.
func (c *Chunker) longestFit(s string, bounds []int, base int) int {
	n := len(bounds) - 1 // runes in s
	fits := func(k int) bool { return c.count(s[:bounds[k]-base]) <= c.size() }
	lo, hi := 1, n
	for step := 1; lo < n; step *= 2 {
		k := min(lo+step, n)
		if !fits(k) {
			hi = k - 1
			break
		}
		lo = k
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// runeBounds returns the byte offsets of every rune boundary in s,
// including 0 and len(s).
func runeBounds(s string) []int {
	b := make([]int, 0, len(s)+1)
	for i := range s {
		b = append(b, i)
	}
	return append(b, len(s))
}

// pack merges consecutive pieces greedily into chunks of at most Size
// units, starting each new chunk with trailing pieces of the previous one
// worth at most Overlap units.
func (c *Chunker) pack(text string, pieces []span) []span {
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

// cutAfter splits sp after every position where end reports a boundary.
// end receives the text and the byte offset just past a rune and returns
// the offset where the piece should end (or -1 for no boundary there).
func cutAfter(text string, sp span, end func(text string, i, limit int) int) []span {
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

// paragraphEnd finds a blank line: a newline followed by optional spaces
// and another newline. The blank lines stay with the preceding paragraph.
func paragraphEnd(text string, i, limit int) int {
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

// sentenceEnd cuts after Chinese and full-width sentence punctuation, after
// ASCII ! ? ; and after a period followed by whitespace (so "3.14" and
// "e.g.x" stay whole). Closing quotes and brackets and following spaces
// stay with the sentence they close.
func sentenceEnd(text string, i, limit int) int {
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
	return extendClosers(text, i, limit)
}

// clauseEnd cuts after commas and enumeration commas.
func clauseEnd(text string, i, limit int) int {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	switch r {
	case '，', ',', '、', '：', ':':
		return extendClosers(text, i, limit)
	}
	return -1
}

// extendClosers moves a cut past closing quotes, brackets and spaces.
func extendClosers(text string, i, limit int) int {
	for i < limit {
		r, size := utf8.DecodeRuneInString(text[i:limit])
		if !strings.ContainsRune("”’」』）)]】》\"' \t", r) {
			break
		}
		i += size
	}
	return i
}

// trimSpan shrinks sp past leading and trailing white space.
func trimSpan(text string, sp span) span {
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

// section is a run of Markdown body text under one heading path.
type section struct {
	span     span
	headings []string
}

// markdownSections splits Markdown into bodies between ATX headings
// (# … ######), ignoring '#' lines inside fenced code blocks. Heading
// lines are excluded from bodies; they become each section's path.
func markdownSections(text string) []section {
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
		} else if level, title := atxHeading(line); !inFence && level > 0 {
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

// atxHeading returns the level and text of a Markdown ATX heading line,
// or 0 when line is not one.
func atxHeading(line string) (int, string) {
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

// runeCounter converts byte offsets to code-point offsets by counting
// from the previous offset, forward or back. Chunk offsets mostly
// increase and overlap steps back by at most Overlap units, so the total
// work is linear (restarting from 0 on every step back made overlapping
// chunks of a long document quadratic).
type runeCounter struct {
	text        string
	byteOff, ch int
}

func newRuneCounter(text string) *runeCounter { return &runeCounter{text: text} }

// at returns the code-point offset of byte offset off, which must lie on
// a rune boundary.
func (r *runeCounter) at(off int) int {
	if off >= r.byteOff {
		r.ch += utf8.RuneCountInString(r.text[r.byteOff:off])
	} else {
		r.ch -= utf8.RuneCountInString(r.text[off:r.byteOff])
	}
	r.byteOff = off
	return r.ch
}
