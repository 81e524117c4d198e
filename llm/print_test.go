package llm

import (
	"strings"
	"testing"
	"time"
)

func TestStreamPrinter(t *testing.T) {
	stream := []Token{{Text: "plan", Reasoning: true}, {Text: " more", Reasoning: true}, {Text: "Answer"}, {Text: " done"}}
	tests := []struct {
		name            string
		showThink, dim  bool
		wantOut, wantEr string
	}{
		{"apart", false, false, "Answer done\n", "plan more\n"},
		{"dimmed", false, true, "Answer done\n", "\x1b[2mplan more\x1b[0m\n"},
		{"inline", true, true, "<think>\nplan more\n</think>\n\nAnswer done\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, er strings.Builder
			p := NewStreamPrinter(&out, &er, tc.showThink, tc.dim)
			for range 2 { // a second turn starts clean
				out.Reset()
				er.Reset()
				for _, tok := range stream {
					if err := p.Token(tok); err != nil {
						t.Fatal(err)
					}
				}
				p.End()
				if out.String() != tc.wantOut || er.String() != tc.wantEr {
					t.Errorf("out %q err %q, want %q %q", out.String(), er.String(), tc.wantOut, tc.wantEr)
				}
			}
		})
	}
	// Reasoning that never closes is closed by End; an answer that ends
	// in a newline gets no second one.
	var out, er strings.Builder
	p := NewStreamPrinter(&out, &er, false, false)
	p.Token(Token{Text: "hmm", Reasoning: true})
	p.End()
	p.Token(Token{Text: "line\n"})
	p.End()
	if out.String() != "line\n" || er.String() != "hmm\n" {
		t.Errorf("out %q err %q, want %q %q", out.String(), er.String(), "line\n", "hmm\n")
	}
}

func TestResultStats(t *testing.T) {
	r := Result{PromptTokens: 10, CachedTokens: 4, CompletionTokens: 1, PrefillTime: 2 * time.Second, DecodeTime: 500 * time.Millisecond, FinishReason: FinishEOS}
	want := "prompt 10 tokens (4 cached) in 2s, 3.0 tok/s · output 1 token in 500ms, 2.0 tok/s · " + string(FinishEOS)
	if got := r.Stats(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
