package eval

import (
	"errors"
	"math"
	"strings"
	"testing"

	"ragtune/internal/cli"
)

func TestParsePerplexityText(t *testing.T) {
	doc, err := ParsePerplexityText("a.txt", []byte("one\ntwo"))
	if err != nil || doc.Text != "one\ntwo" || doc.Samples != nil {
		t.Fatalf("plain file: %+v, %v", doc, err)
	}
	js, err := ParsePerplexityText("a.JSONL", []byte("\"first\"\n\n{\"text\": \"second\"}\n"))
	if err != nil || len(js.Samples) != 2 || js.Samples[0] != "first" || js.Samples[1] != "second" {
		t.Fatalf("jsonl: %+v, %v", js, err)
	}
	for in, want := range map[string]string{
		"\"ok\"\n{\"txt\": 1}": "b.jsonl:2: no \"text\"",
		"[1]":                  "b.jsonl:1: want a string",
		"{":                    "b.jsonl:1:",
		"\n\n":                 "holds no samples",
	} {
		if _, err := ParsePerplexityText("b.jsonl", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one with %q", in, err, want)
		}
	}
}

// TestFilePerplexity checks the document path against the Scorer's own
// sliding-window figures, the samples path against SamplesPerplexity, and
// that a one-token text is a usage error.
func TestFilePerplexity(t *testing.T) {
	m, err := LoadModel(tinyDir(t, 3), "", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	text := strings.Repeat("Fine-tuning follows pre-training. 微调。", 4)
	got, err := FilePerplexity(m, PerplexityText{Name: "t.txt", Text: text}, 64, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	toks := m.Tok.Encode(text, true)
	lp, err := NewScorer(m.Net, 64).WindowLogProbs(toks, 64, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	var p Perplexity
	if err := p.Add(lp...); err != nil {
		t.Fatal(err)
	}
	if got.Tokens != len(toks) || got.Scored != p.Tokens || math.Abs(got.PPL-p.Value()) > 1e-9 || got.Window != 64 || got.Stride != 32 {
		t.Errorf("document: %+v; want %d tokens, %d scored, PPL %v", got, len(toks), p.Tokens, p.Value())
	}
	samples := []string{"short one", text}
	gs, err := FilePerplexity(m, PerplexityText{Name: "s.jsonl", Samples: samples}, 64, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc := [][]int{m.Tok.Encode(samples[0], true), m.Tok.Encode(samples[1], true)}
	rep, err := NewScorer(m.Net, 64).SamplesPerplexity(enc, 64, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gs.Samples != 2 || math.Abs(gs.PPL-rep.Corpus) > 1e-9 || math.Abs(gs.MedianOfSamples-rep.MedianOfSamples) > 1e-9 {
		t.Errorf("samples: %+v; want corpus PPL %v, median %v", gs, rep.Corpus, rep.MedianOfSamples)
	}
	_, err = FilePerplexity(m, PerplexityText{Name: "e.txt", Text: ""}, 64, 32, nil)
	if !errors.Is(err, cli.ErrUsage) {
		t.Errorf("empty text: error %v, want a usage error", err)
	}
}
