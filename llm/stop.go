package llm

import "strings"

// stopMatcher cuts the answer at the first stop string. Text arrives in
// token-sized pieces, so a stop string may straddle pieces: the matcher
// holds back the longest tail that is still the beginning of some stop
// string and releases it only once it can no longer start a match. The stop
// string itself is never released.
type stopMatcher struct {
	stops   []string
	pending string
	done    bool
}

func newStopMatcher(stops []string) stopMatcher {
	var m stopMatcher
	for _, s := range stops {
		if s != "" { // an empty stop would end every generation at once
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// push adds text and returns what is safe to show; stopped reports that a
// stop string was found, in which case emit is everything before it and
// later pushes return nothing.
func (m *stopMatcher) push(text string) (emit string, stopped bool) {
	if m.done {
		return "", true
	}
	if len(m.stops) == 0 {
		return text, false
	}
	p := m.pending + text
	first := -1
	for _, s := range m.stops {
		if i := strings.Index(p, s); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		m.pending, m.done = "", true
		return p[:first], true
	}
	hold := 0
	for _, s := range m.stops {
		for k := min(len(s)-1, len(p)); k > hold; k-- {
			if strings.HasSuffix(p, s[:k]) {
				hold = k
				break
			}
		}
	}
	m.pending = p[len(p)-hold:]
	return p[:len(p)-hold], false
}

// flush releases the held-back tail at the end of a generation that did
// not stop on a stop string.
func (m *stopMatcher) flush() string {
	if m.done {
		return ""
	}
	p := m.pending
	m.pending = ""
	return p
}
