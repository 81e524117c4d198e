package llm

import (
	"strings"
	"testing"
)

// feedStop pushes pieces through a stop matcher and returns every emitted
// piece, whether it stopped, and the flushed tail.
func feedStop(t *testing.T, stops []string, pieces ...string) (out []string, stopped bool) {
	t.Helper()
	m := newStopMatcher(stops)
	for _, p := range pieces {
		e, st := m.push(p)
		if e != "" {
			out = append(out, e)
		}
		if st {
			return out, true
		}
	}
	if tail := m.flush(); tail != "" {
		out = append(out, tail)
	}
	return out, false
}

func TestStopMatcher(t *testing.T) {
	tests := []struct {
		name        string
		stops       []string
		pieces      []string
		want        string
		wantStopped bool
		// wantFirst is what the first push may show: text that could begin
		// a stop string must be held back.
		wantFirst string
	}{
		{"no stops", nil, []string{"ab", "c"}, "abc", false, "ab"},
		{"inside one piece", []string{"END"}, []string{"abcENDxyz"}, "abc", true, "abc"},
		{"across pieces", []string{"END"}, []string{"abcE", "N", "Dxyz"}, "abc", true, "abc"},
		{"false start released", []string{"END"}, []string{"abcE", "NX", "y"}, "abcENXy", false, "abc"},
		{"held tail flushed at the end", []string{"END"}, []string{"abcEN"}, "abcEN", false, "abc"},
		{"earliest of several", []string{"zz", "b"}, []string{"azzb"}, "a", true, "a"},
		{"longer stop held while shorter absent", []string{"\n\nUser:", "###"}, []string{"hi\n", "\nUs", "er: x"}, "hi", true, "hi"},
		{"multibyte stop", []string{"。"}, []string{"你好", "。再见"}, "你好", true, "你好"},
		{"empty stop ignored", []string{""}, []string{"ab"}, "ab", false, "ab"},
		{"stop at the very start", []string{"<"}, []string{"<x"}, "", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stopped := feedStop(t, tc.stops, tc.pieces...)
			if got := strings.Join(out, ""); got != tc.want || stopped != tc.wantStopped {
				t.Errorf("emitted %q stopped=%v, want %q stopped=%v", got, stopped, tc.want, tc.wantStopped)
			}
			m := newStopMatcher(tc.stops)
			if got, _ := m.push(tc.pieces[0]); got != tc.wantFirst {
				t.Errorf("first push showed %q, want %q", got, tc.wantFirst)
			}
		})
	}
}

func feedThink(start phase, pieces ...string) (reasoning, answer string, shown []string) {
	sp := newThinkSplitter(start)
	for _, p := range pieces {
		r, a := sp.push(p)
		reasoning += r
		answer += a
		if r != "" {
			shown = append(shown, "R:"+r)
		}
		if a != "" {
			shown = append(shown, "A:"+a)
		}
	}
	r, a := sp.flush()
	return reasoning + r, answer + a, shown
}

func TestThinkSplitter(t *testing.T) {
	tests := []struct {
		name                   string
		start                  phase
		pieces                 []string
		wantReasoning, wantAns string
	}{
		{"R1: prompt opened the block", phaseThink,
			[]string{"Okay", ", the user", " asks.", "\n", "</think>", "\n\n", "Paris", "."},
			"Okay, the user asks.", "Paris."},
		{"model opens the block itself", phaseStart,
			[]string{"<think>", "\n", "hmm", "\n</think>\n\n", "yes"}, "hmm", "yes"},
		{"open tag split over pieces", phaseStart, []string{"\n<th", "ink>a", "b</th", "ink>c"}, "ab", "c"},
		{"no reasoning at all", phaseStart, []string{"Hello", " <think> is text"}, "", "Hello <think> is text"},
		{"tag-like start that is not a tag", phaseStart, []string{"<th", "ree"}, "", "<three"},
		{"disabled thinking starts in the answer", phaseAnswer, []string{"\n", "Direct", " answer"}, "", "Direct answer"},
		{"cut off while thinking", phaseThink, []string{"step 1\n", "step 2\n\n"}, "step 1\nstep 2", ""},
		{"a second block is answer text", phaseThink, []string{"a</think>b<think>c"}, "a", "b<think>c"},
		{"inner whitespace kept", phaseThink, []string{"a\n", "\nb", "</think>x\n", "\ny"}, "a\n\nb", "x\n\ny"},
		{"everything in one piece", phaseStart, []string{"  <think>\nr\n</think>\n\nA"}, "r", "A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, a, shown := feedThink(tc.start, tc.pieces...)
			if r != tc.wantReasoning || a != tc.wantAns {
				t.Errorf("reasoning %q answer %q, want %q and %q (stream %q)", r, a, tc.wantReasoning, tc.wantAns, shown)
			}
			for i, s := range shown {
				if strings.Contains(s, thinkClose) {
					t.Errorf("piece %d %q shows the closing tag", i, s)
				}
			}
		})
	}
}

// TestThinkSplitterStreamsEarly checks that reasoning is shown as it comes
// rather than all at once at "</think>".
func TestThinkSplitterStreamsEarly(t *testing.T) {
	sp := newThinkSplitter(phaseThink)
	if r, _ := sp.push("first thought"); r != "first thought" {
		t.Errorf("push showed %q, want the reasoning at once", r)
	}
	if r, _ := sp.push(" and more </"); r != " and more" {
		t.Errorf("push showed %q, want the text before the possible tag", r)
	}
}

func TestInitialPhase(t *testing.T) {
	tests := []struct {
		prompt string
		want   phase
	}{
		{"<｜User｜>hi<｜Assistant｜><think>\n", phaseThink},
		{"<｜User｜>hi<｜Assistant｜><think>\n\n</think>\n\n", phaseAnswer},
		{"<｜User｜>hi<｜Assistant｜>", phaseStart},
		{"raw text", phaseStart},
		// A closed block in the history does not mean the new turn skips reasoning.
		{"<think>a</think>b<|im_start|>user\nq<|im_start|>assistant\n", phaseStart},
	}
	for _, tc := range tests {
		if got := initialPhase(tc.prompt); got != tc.want {
			t.Errorf("initialPhase(%q) = %d, want %d", tc.prompt, got, tc.want)
		}
	}
}
