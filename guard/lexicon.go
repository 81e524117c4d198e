package guard

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

// Entry is one lexicon term and its category.
type Entry struct {
	Term     string `json:"term"`
	Category string `json:"category"`
}

// Lexicon is a set of sensitive terms with categories and the automaton
// that finds them; it is immutable and safe for concurrent use.
type Lexicon struct {
	entries []Entry
	matcher *Matcher
}

// LexiconMatch is a lexicon term found in a text, [Start, End) in bytes.
type LexiconMatch struct {
	Entry
	Start, End int
}

//go:embed lexicon_default.tsv
var defaultLexiconTSV string

var defaultLexicon = sync.OnceValues(func() (*Lexicon, error) {
	return ParseLexicon(strings.NewReader(defaultLexiconTSV), "default lexicon")
})

// DefaultLexicon is the lexicon ragtune ships (lexicon_default.tsv): a
// modest list of Chinese and English phrases in the categories violence,
// self_harm, drugs, fraud, hate, minors_sexual and weapons.
func DefaultLexicon() *Lexicon {
	l, err := defaultLexicon()
	if err != nil {
		// The embedded file is tested; failing here is a build defect.
		panic(err)
	}
	return l
}

// NewLexicon builds a lexicon from entries; duplicates of the same term
// (after folding) keep the first category. Its matcher bridges separators
// between Chinese characters (see MatcherOptions.HanGaps).
func NewLexicon(entries []Entry) (*Lexicon, error) {
	seen := map[string]bool{}
	l := &Lexicon{}
	for i, e := range entries {
		e.Term = strings.TrimSpace(e.Term)
		e.Category = strings.TrimSpace(e.Category)
		if e.Term == "" || e.Category == "" {
			return nil, fmt.Errorf("lexicon entry %d: term and category must both be set", i)
		}
		key := foldString(e.Term)
		if seen[key] {
			continue
		}
		seen[key] = true
		l.entries = append(l.entries, e)
	}
	terms := make([]string, len(l.entries))
	for i, e := range l.entries {
		terms[i] = e.Term
	}
	m, err := NewMatcher(terms, MatcherOptions{HanGaps: true})
	if err != nil {
		return nil, fmt.Errorf("lexicon: %w", err)
	}
	l.matcher = m
	return l, nil
}

func foldString(s string) string { return string(foldPattern(s, true)) }

// ParseLexicon reads "<category>\t<term>" lines ('#' comments, blank lines
// ignored). name labels errors, e.g. the file path.
func ParseLexicon(r io.Reader, name string) (*Lexicon, error) {
	entries, err := parseEntries(r, name)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Category == "-" {
			return nil, fmt.Errorf("%s: removal entries (category \"-\") only make sense in a file merged over a base lexicon; use MergeLexiconFile", name)
		}
	}
	return NewLexicon(entries)
}

func parseEntries(r io.Reader, name string) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cat, term, ok := strings.Cut(text, "\t")
		if !ok || strings.TrimSpace(term) == "" || strings.TrimSpace(cat) == "" {
			return nil, fmt.Errorf("%s:%d: want \"<category><TAB><term>\", got %q", name, line, text)
		}
		entries = append(entries, Entry{Term: strings.TrimSpace(term), Category: strings.TrimSpace(cat)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return entries, nil
}

// LoadLexicon reads a lexicon file that replaces the default.
func LoadLexicon(path string) (*Lexicon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load lexicon: %w", err)
	}
	defer f.Close()
	return ParseLexicon(f, path)
}

// MergeLexiconFile reads a file of entries over base: new terms are added,
// a term already present takes the file's category, and category "-"
// removes a term.
func MergeLexiconFile(base *Lexicon, path string) (*Lexicon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("merge lexicon: %w", err)
	}
	defer f.Close()
	over, err := parseEntries(f, path)
	if err != nil {
		return nil, err
	}
	return base.Merge(over)
}

// Merge returns a lexicon with over applied to l (see MergeLexiconFile).
func (l *Lexicon) Merge(over []Entry) (*Lexicon, error) {
	byTerm := map[string]int{}
	var entries []Entry
	if l != nil {
		entries = append(entries, l.entries...)
	}
	for i, e := range entries {
		byTerm[foldString(e.Term)] = i
	}
	removed := map[int]bool{}
	for _, e := range over {
		key := foldString(e.Term)
		i, ok := byTerm[key]
		switch {
		case e.Category == "-":
			if ok {
				removed[i] = true
			}
		case ok:
			entries[i].Category = e.Category
			delete(removed, i)
		default:
			byTerm[key] = len(entries)
			entries = append(entries, e)
		}
	}
	kept := entries[:0:0]
	for i, e := range entries {
		if !removed[i] {
			kept = append(kept, e)
		}
	}
	return NewLexicon(kept)
}

// Entries returns the terms in order.
func (l *Lexicon) Entries() []Entry { return append([]Entry(nil), l.entries...) }

// Categories lists the distinct categories, sorted.
func (l *Lexicon) Categories() []string {
	set := map[string]bool{}
	for _, e := range l.entries {
		set[e.Category] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// FindAll returns every occurrence, overlapping ones included.
func (l *Lexicon) FindAll(text string) []LexiconMatch { return l.wrap(l.matcher.FindAll(text)) }

// FindLeftmostLongest returns non-overlapping occurrences, longest first at
// each position: the spans to mask.
func (l *Lexicon) FindLeftmostLongest(text string) []LexiconMatch {
	return l.wrap(l.matcher.FindLeftmostLongest(text))
}

func (l *Lexicon) wrap(ms []Match) []LexiconMatch {
	out := make([]LexiconMatch, len(ms))
	for i, m := range ms {
		out[i] = LexiconMatch{Entry: l.entries[m.Pattern], Start: m.Start, End: m.End}
	}
	return out
}
