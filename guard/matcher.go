package guard

import (
	"fmt"
	"sort"
	"unicode/utf8"
)

// Match is one occurrence of a pattern: Pattern indexes the patterns given
// to NewMatcher; [Start, End) are byte offsets into the searched text.
type Match struct {
	Pattern    int
	Start, End int
}

// Matcher finds many patterns at once with an Aho-Corasick automaton over
// folded runes: case-insensitive, full-width forms equal to ASCII, and
// invisible characters (zero-width space, soft hyphen…) skipped. Patterns
// match inside longer Chinese text; a pattern that starts (ends) with an
// ASCII letter or digit only matches where the text has no letter or digit
// just before (after) it, so "kill" does not fire inside "skill". A Matcher
// is immutable and safe for concurrent use.
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
	// HanGaps ignores separators (spaces, - _ · . | / \) between two
	// Chinese characters, in patterns and text alike, so "毒 品" and
	// "毒-品" match 毒品.
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
		var runes []rune
		prs := []rune(p)
		for k, r := range prs {
			if isInvisible(r) || opts.HanGaps && k > 0 && isHan(prs[k-1]) && isGap(r) && hanAfterGap(prs[k+1:]) {
				continue
			}
			runes = append(runes, foldRune(r))
		}
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

// scan runs the automaton. starts is a ring of the byte offsets of recent
// folded runes, so a match of d runes ending here starts d runes back.
func (m *Matcher) scan(text string, emit func(Match)) {
	if len(m.patterns) == 0 || len(text) == 0 {
		return
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
	prevHan := false
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		if isInvisible(r) {
			i += size
			continue
		}
		if prevHan && m.hanGaps && isGap(r) {
			if j := skipGaps(text, i); j > i {
				i = j
				continue
			}
		}
		prevHan = isHan(r)
		if prevHan {
			// CJK ideographs have no case and no width variants.
		} else {
			r = foldRune(r)
		}
		starts[pos&mask] = i
		pos++
		c := m.classOf(r)
		if c == 0 {
			state = 0
			i += size
			continue
		}
		state = m.next(state, c)
		end := i + size
		for _, id := range m.out[state] {
			start := starts[(pos-int(m.plen[id]))&mask]
			if !m.substring && !m.boundaryOK(text, id, start, end) {
				continue
			}
			emit(Match{Pattern: int(id), Start: start, End: end})
		}
		i = end
	}
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

// isGap reports separators people put between Chinese characters to split
// a word: spaces, - _ · . | / \ and their full-width forms. Not '*': it is
// the mask character, and bridging masked text would make a second
// redaction pass find new words.
func isGap(r rune) bool {
	switch foldRune(r) {
	case ' ', '\t', '-', '_', '·', '.', '|', '/', '\\', '・':
		return true
	}
	return false
}

func hanAfterGap(rs []rune) bool {
	for _, r := range rs {
		if isGap(r) || isInvisible(r) {
			continue
		}
		return isHan(r)
	}
	return false
}

// skipGaps returns the offset after the separators starting at i when a
// Chinese character follows them, else i.
func skipGaps(text string, i int) int {
	j := i
	for j < len(text) {
		r, size := utf8.DecodeRuneInString(text[j:])
		switch {
		case isGap(r) || isInvisible(r):
			j += size
		case isHan(r):
			return j
		default:
			return i
		}
	}
	return i
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
