package demo

import (
	"strings"
	"testing"
)

// Every QA answer must be grounded in the document it names, or the demo's
// citation check would measure nothing.
func TestQAGroundedInCorpus(t *testing.T) {
	docs := map[string]string{}
	for _, d := range Corpus() {
		docs[d.Name] = d.Text
	}
	if len(docs) < 6 {
		t.Fatalf("corpus has %d documents, want at least 6", len(docs))
	}
	qa := QAPairs()
	if len(qa) < 20 {
		t.Fatalf("got %d QA pairs, want at least 20", len(qa))
	}
	for _, q := range qa {
		text, ok := docs[q.Source]
		if !ok {
			t.Errorf("%q: source %q not in corpus", q.Instruction, q.Source)
			continue
		}
		// At least one 6-rune window of the answer appears in the source.
		r := []rune(q.Output)
		found := false
		for i := 0; i+6 <= len(r) && !found; i++ {
			found = strings.Contains(text, string(r[i:i+6]))
		}
		if !found {
			t.Errorf("%q: answer %q shares no 6-character span with %s", q.Instruction, q.Output, q.Source)
		}
	}
	if len(GeneralQA()) == 0 || len(GeneralText()) == 0 {
		t.Fatal("general-knowledge data missing")
	}
}
