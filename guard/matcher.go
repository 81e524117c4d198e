package guard

import (
	"fmt"
	"sort"
	"unicode"
	"unicode/utf8"
)

// Match is one occurrence of a pattern: Pattern indexes the patterns given
// to NewMatcher; [Start, End) are byte offsets into the searched text.
type Match struct {
	Pattern    int
	Start, End int
}

// Matcher finds many patterns at once with an Aho-Corasick automaton over
// folded runes (fold.go: case, width, accents, invisible characters,
// look-alike Cyrillic and Greek letters, traditional Chinese, leetspeak),
// with white-space runs read as one space. Patterns match inside longer
// Chinese text; a pattern that starts (ends) with an ASCII letter or digit
// only matches where the text has no letter or digit just before (after)
// it, so "kill" does not fire inside "skill". A Matcher is immutable and
// safe for concurrent use.
type Matcher struct {
	patterns []string
	// Runes that occur in patterns get dense class numbers from 1; class 0
	// means "in no pattern", which sends the automaton back to the root.
	bmpClass    []uint16 // 65,536 entries
	astralClass map[rune]uint16
	nclass      int
	edges       edgeTable // (node, class) → child node
	rootNext    []int32   // class → child of the root (0: stay at the root)
	fail        []int32
	out         [][]int32 // patterns ending at a node, through dictionary links
	depth       []int32   // runes from the root to a node
	maxDepth    int
	bound       []uint8 // per pattern: 1 start, 2 end needs a word boundary
	plen        []int32 // per pattern: folded length in runes
	// Substring disables the word-boundary rule for Latin patterns.
	substring bool
	hanGaps   bool
}

// MatcherOptions adjusts matching.
type MatcherOptions struct {
	// Substring lets Latin patterns match inside longer words.
	Substring bool
	// HanGaps ignores a run of up to maxHanGap separators (white space,
	// line breaks, punctuation, symbols, a single '*') between two
	// Chinese characters, in patterns and text alike, so "毒 品", "毒\n品"
	// and "毒*品" match 毒品.
	HanGaps bool
}

// NewMatcher builds the automaton. A pattern that folds to nothing is an
// error; duplicates are allowed and each reports its own index.
func NewMatcher(patterns []string, opts MatcherOptions) (*Matcher, error) {
	m := &Matcher{
		patterns:    append([]string(nil), patterns...),
		bmpClass:    make([]uint16, 1<<16),
		astralClass: map[rune]uint16{},
		fail:        []int32{0},
		out:         [][]int32{nil},
		depth:       []int32{0},
		bound:       make([]uint8, len(patterns)),
		plen:        make([]int32, len(patterns)),
		substring:   opts.Substring,
		hanGaps:     opts.HanGaps,
	}
	trie := map[uint64]int32{}
	for id, p := range patterns {
		runes := foldPattern(p, opts.HanGaps)
		if len(runes) == 0 {
			return nil, fmt.Errorf("matcher: pattern %d (%q) is empty after folding", id, p)
		}
		if isASCIIWord(runes[0]) {
			m.bound[id] |= 1
		}
		if isASCIIWord(runes[len(runes)-1]) {
			m.bound[id] |= 2
		}
		node := int32(0)
		for _, r := range runes {
			c, err := m.classify(r)
			if err != nil {
				return nil, err
			}
			key := edgeKey(node, c)
			child, ok := trie[key]
			if !ok {
				child = int32(len(m.fail))
				trie[key] = child
				m.fail = append(m.fail, 0)
				m.out = append(m.out, nil)
				m.depth = append(m.depth, m.depth[node]+1)
			}
			node = child
		}
		m.out[node] = append(m.out[node], int32(id))
		m.plen[id] = int32(len(runes))
		m.maxDepth = max(m.maxDepth, len(runes))
	}
	m.edges = newEdgeTable(trie)
	m.rootNext = make([]int32, m.nclass+1)
	for key, child := range trie {
		if key>>16 == 0 {
			m.rootNext[key&0xffff] = child
		}
	}
	m.buildFailLinks(trie)
	return m, nil
}

func (m *Matcher) classify(r rune) (uint16, error) {
	if c := m.classOf(r); c != 0 {
		return c, nil
	}
	if m.nclass == 1<<16-1 {
		return 0, fmt.Errorf("matcher: patterns use more than %d distinct characters", 1<<16-1)
	}
	m.nclass++
	c := uint16(m.nclass)
	if r < 1<<16 {
		m.bmpClass[r] = c
	} else {
		m.astralClass[r] = c
	}
	return c, nil
}

func (m *Matcher) classOf(r rune) uint16 {
	if r >= 0 && r < 1<<16 {
		return m.bmpClass[r]
	}
	return m.astralClass[r]
}

func edgeKey(node int32, class uint16) uint64 { return uint64(node)<<16 | uint64(class) }

// edgeTable is an open-addressing hash of trie edges: several times faster
// than a Go map on the per-character path.
type edgeTable struct {
	keys  []uint64 // key+1; 0 marks an empty slot
	vals  []int32
	shift uint
}

func newEdgeTable(edges map[uint64]int32) edgeTable {
	size, shift := 16, uint(64-4)
	for size < 2*len(edges) {
		size <<= 1
		shift--
	}
	t := edgeTable{keys: make([]uint64, size), vals: make([]int32, size), shift: shift}
	for k, v := range edges {
		i := t.slot(k)
		for t.keys[i] != 0 {
			i = (i + 1) & (len(t.keys) - 1)
		}
		t.keys[i], t.vals[i] = k+1, v
	}
	return t
}

func (t *edgeTable) slot(k uint64) int { return int((k * 0x9E3779B97F4A7C15) >> t.shift) }

func (t *edgeTable) get(k uint64) (int32, bool) {
	i := t.slot(k)
	mask := len(t.keys) - 1
	for {
		switch t.keys[i] {
		case k + 1:
			return t.vals[i], true
		case 0:
			return 0, false
		}
		i = (i + 1) & mask
	}
}

// next is the automaton's transition from state on class c (c != 0).
func (m *Matcher) next(state int32, c uint16) int32 {
	for state != 0 {
		if child, ok := m.edges.get(edgeKey(state, c)); ok {
			return child
		}
		state = m.fail[state]
	}
	return m.rootNext[c]
}

// buildFailLinks computes failure links breadth-first and merges each
// node's output with its failure node's, so a search reports every
// pattern ending at a position from one list.
func (m *Matcher) buildFailLinks(trie map[uint64]int32) {
	type edge struct {
		c     uint16
		child int32
	}
	children := make([][]edge, len(m.fail))
	for key, child := range trie {
		parent := int32(key >> 16)
		children[parent] = append(children[parent], edge{uint16(key), child})
	}
	queue := []int32{0}
	for len(queue) > 0 {
		node := queue[0]
		queue = queue[1:]
		for _, e := range children[node] {
			if node != 0 {
				m.fail[e.child] = m.next(m.fail[node], e.c)
			}
			if extra := m.out[m.fail[e.child]]; len(extra) > 0 {
				m.out[e.child] = append(append([]int32(nil), m.out[e.child]...), extra...)
			}
			queue = append(queue, e.child)
		}
	}
}

// Patterns returns the patterns in index order.
func (m *Matcher) Patterns() []string { return append([]string(nil), m.patterns...) }

// FindAll returns every match, overlapping ones included, ordered by start
// and then by end.
func (m *Matcher) FindAll(text string) []Match {
	var out []Match
	m.scan(text, func(mt Match) { out = append(out, mt) })
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		if out[i].End != out[j].End {
			return out[i].End < out[j].End
		}
		return out[i].Pattern < out[j].Pattern
	})
	return out
}

// FindLeftmostLongest returns non-overlapping matches chosen left to right,
// the longest at each start: the set to mask.
func (m *Matcher) FindLeftmostLongest(text string) []Match {
	all := m.FindAll(text)
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Start != all[j].Start {
			return all[i].Start < all[j].Start
		}
		return all[i].End > all[j].End
	})
	var out []Match
	last := 0
	for _, mt := range all {
		if mt.Start >= last {
			out = append(out, mt)
			last = mt.End
		}
	}
	return out
}

// Count returns the number of matches (overlapping included) without
// collecting them.
func (m *Matcher) Count(text string) int {
	n := 0
	m.scan(text, func(Match) { n++ })
	return n
}

// Contains reports whether any pattern occurs.
func (m *Matcher) Contains(text string) bool {
	found := false
	m.scan(text, func(Match) { found = true })
	return found
}

// foldPattern folds a pattern the way scan folds text: separators between
// Chinese characters dropped (with HanGaps), each character folded (see
// fold.go), white-space runs collapsed to one space and trimmed.
func foldPattern(p string, hanGaps bool) []rune {
	var runes []rune
	prs := []rune(p)
	for k, r := range prs {
		if isInvisible(r) || hanGaps && k > 0 && isHan(prs[k-1]) && isGap(r) && hanAfterGap(prs[k+1:]) {
			continue
		}
		for _, f := range foldRunes(nil, r) {
			if unicode.IsSpace(f) {
				if len(runes) == 0 || runes[len(runes)-1] == ' ' {
					continue
				}
				f = ' '
			}
			runes = append(runes, f)
		}
	}
	for len(runes) > 0 && runes[len(runes)-1] == ' ' {
		runes = runes[:len(runes)-1]
	}
	return runes
}

// scan runs the automaton over the folded text and returns where the
// longest pattern prefix still open at the end of the text begins
// (len(text) when none is): the earliest byte that more text could make
// part of a match. starts is a ring of the byte offsets of recent folded
// runes, so a match of d runes ending here starts d runes back.
func (m *Matcher) scan(text string, emit func(Match)) (open int) {
	if len(m.patterns) == 0 || len(text) == 0 {
		return len(text)
	}
	ringSize := 1
	for ringSize < m.maxDepth+1 {
		ringSize <<= 1
	}
	var small [64]int
	var starts []int
	if ringSize <= len(small) {
		starts = small[:ringSize]
	} else {
		starts = make([]int, ringSize)
	}
	mask := ringSize - 1
	state := int32(0)
	pos := 0 // folded runes seen
	prevHan, prevSpace := false, false
	lastHan, hanOpen := -1, len(text) // after the last Chinese character: its offset, and the open prefix there
	var fbuf [8]rune
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		if prevHan && m.hanGaps && isGap(r) {
			if j := skipGaps(text, i); j > i {
				i = j
				continue
			}
		}
		f := foldRunes(fbuf[:0], r)
		if len(f) == 0 {
			i += size
			continue
		}
		if len(f) == 1 && unicode.IsSpace(f[0]) {
			// A run of white space reads as one space.
			if prevSpace {
				i += size
				continue
			}
			f[0], prevSpace = ' ', true
		} else {
			prevSpace = false
		}
		prevHan = isHan(r)
		end := i + size
		for _, fr := range f {
			starts[pos&mask] = i
			pos++
			c := m.classOf(fr)
			if c == 0 {
				state = 0
				continue
			}
			state = m.next(state, c)
			for _, id := range m.out[state] {
				start := starts[(pos-int(m.plen[id]))&mask]
				if !m.substring && !m.boundaryOK(text, id, start, end) {
					continue
				}
				emit(Match{Pattern: int(id), Start: start, End: end})
			}
		}
		if prevHan {
			lastHan, hanOpen = end, len(text)
			if d := int(m.depth[state]); d > 0 {
				hanOpen = starts[(pos-d)&mask]
			}
		}
		i = end
	}
	open = len(text)
	if d := int(m.depth[state]); d > 0 {
		open = starts[(pos-d)&mask]
	}
	if m.hanGaps && lastHan >= 0 && lastHan < len(text) && gapTail(text, lastHan) {
		// Separators after a Chinese character: the next one may
		// continue the term across them.
		open = min(open, hanOpen)
	}
	return open
}

// OpenFrom returns the byte offset where a pattern that more text could
// complete would begin: the start of the longest suffix of text that is a
// pattern's prefix (separators after a Chinese character bridged), or
// len(text) when there is none. A stream may release text before it.
func (m *Matcher) OpenFrom(text string) int {
	return m.scan(text, func(Match) {})
}

// boundaryOK applies the word-boundary rule for Latin pattern edges.
func (m *Matcher) boundaryOK(text string, id int32, start, end int) bool {
	b := m.bound[id]
	if b&1 != 0 && start > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:start])
		if isWordNeighbour(r) {
			return false
		}
	}
	if b&2 != 0 && end < len(text) {
		r, _ := utf8.DecodeRuneInString(text[end:])
		if isWordNeighbour(r) {
			return false
		}
	}
	return true
}

func isHan(r rune) bool {
	return r >= 0x3400 && r <= 0x9FFF || r >= 0xF900 && r <= 0xFAFF || r >= 0x20000 && r <= 0x3134F
}

func hanAfterGap(rs []rune) bool {
	n := 0
	for _, r := range rs {
		if isGap(r) || isInvisible(r) {
			if n++; n > maxHanGap {
				return false
			}
			continue
		}
		return isHan(r)
	}
	return false
}

func isASCIIWord(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z')
}

// isWordNeighbour decides whether a character next to a Latin match makes
// it part of a longer word: ASCII letters and digits, their full-width
// forms, and '*' — the mask character — so text masked once does not turn
// new neighbours into boundaries on a second pass.
func isWordNeighbour(r rune) bool {
	return isASCIIWord(foldRune(r)) || r == '*'
}
