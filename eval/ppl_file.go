package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
)

// FilePerplexityResult is what FilePerplexity measures; its JSON form is
// the output of 'ragtune eval perplexity --json'.
type FilePerplexityResult struct {
	Model     string  `json:"model"`
	Adapter   string  `json:"adapter,omitempty"`
	File      string  `json:"file"`
	Tokens    int     `json:"tokens"`
	Scored    int     `json:"scored_tokens"`
	Window    int     `json:"window"`
	Stride    int     `json:"stride"`
	Windows   int     `json:"windows"`
	MeanNLL   float64 `json:"mean_nll"`
	PPL       float64 `json:"ppl"`
	Seconds   float64 `json:"seconds"`
	TokensPer float64 `json:"scored_tokens_per_s"`
	// Per-sample figures, for a .jsonl file.
	Samples         int     `json:"samples,omitempty"`
	MeanOfSamples   float64 `json:"mean_of_samples,omitempty"`
	MedianOfSamples float64 `json:"median_of_samples,omitempty"`
}

// PerplexityText is the text FilePerplexity scores: one document, or
// for a .jsonl file separate samples, each scored from its own first token.
type PerplexityText struct {
	Name    string   // the file name, for reports and errors
	Text    string   // the whole document (when Samples is nil)
	Samples []string // the samples of a .jsonl file
}

// ParsePerplexityText reads b, the contents of the file name: a .jsonl
// file holds one sample per line, a JSON string or an object with "text";
// any other file is one document. It is separate from FilePerplexity so a
// malformed file is reported before a model is loaded.
func ParsePerplexityText(name string, b []byte) (PerplexityText, error) {
	t := PerplexityText{Name: name}
	if !strings.HasSuffix(strings.ToLower(name), ".jsonl") {
		t.Text = string(b)
		return t, nil
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			return t, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		switch x := v.(type) {
		case string:
			t.Samples = append(t.Samples, x)
		case map[string]any:
			s, ok := x["text"].(string)
			if !ok {
				return t, fmt.Errorf("%s:%d: no \"text\" string", name, i+1)
			}
			t.Samples = append(t.Samples, s)
		default:
			return t, fmt.Errorf("%s:%d: want a string or an object with \"text\"", name, i+1)
		}
	}
	if len(t.Samples) == 0 {
		return t, fmt.Errorf("%s holds no samples", name)
	}
	return t, nil
}

// FilePerplexity scores text under m with sliding windows of window tokens
// starting every stride tokens (Hugging Face's strided perplexity; the
// tokenizer's BOS first). A window longer than the model's context is
// capped to it. log, if not nil, receives the plan and a progress line per
// window or sample. A text of fewer than two tokens, or a plan
// SlidingWindows refuses, is a usage error (cli.Usagef).
func FilePerplexity(m *Model, text PerplexityText, window, stride int, log io.Writer) (*FilePerplexityResult, error) {
	if log == nil {
		log = io.Discard
	}
	if mc := m.Net.MaxContext(); mc > 0 && window > mc {
		fmt.Fprintf(log, "window %d exceeds the model's %d-token context; using %d\n", window, mc, mc)
		window = mc
		stride = min(stride, mc)
	}
	t0 := time.Now()
	show := func(what string) func(done, total int) {
		return func(done, total int) {
			el := time.Since(t0)
			eta := time.Duration(float64(el) / float64(done) * float64(total-done))
			fmt.Fprintf(log, "\r%s %d/%d  %s elapsed, ~%s left   ", what, done, total, el.Round(time.Second), eta.Round(time.Second))
		}
	}
	o := &FilePerplexityResult{Model: m.Path, Adapter: m.Adapter, File: text.Name, Window: window, Stride: stride}
	if text.Samples != nil {
		samples := make([][]int, len(text.Samples))
		longest := 0
		for i, t := range text.Samples {
			samples[i] = m.Tok.Encode(t, true)
			o.Tokens += len(samples[i])
			longest = max(longest, len(samples[i]))
			if plan, err := SlidingWindows(len(samples[i]), window, stride); err == nil {
				o.Windows += len(plan)
			}
		}
		fmt.Fprintf(log, "%s, %s, windows of up to %d (stride %d)\n", plural.Count(len(samples), "sample"), plural.Count(o.Tokens, "token"), window, stride)
		sc := NewScorer(m.Net, min(window, longest))
		rep, err := sc.SamplesPerplexity(samples, window, stride, show("sample"))
		fmt.Fprintln(log)
		if err != nil {
			return nil, err
		}
		o.Scored, o.MeanNLL, o.PPL = rep.Tokens, rep.MeanNLL, rep.Corpus
		o.Samples, o.MeanOfSamples, o.MedianOfSamples = rep.Samples, rep.MeanOfSamples, rep.MedianOfSamples
	} else {
		toks := m.Tok.Encode(text.Text, true)
		if len(toks) < 2 {
			return nil, cli.Usagef("%s has %d tokens; perplexity needs at least 2", text.Name, len(toks))
		}
		plan, err := SlidingWindows(len(toks), window, stride)
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		fmt.Fprintf(log, "%s, %s of up to %d (stride %d)\n", plural.Count(len(toks), "token"), plural.Count(len(plan), "window"), window, stride)
		sc := NewScorer(m.Net, min(window, len(toks)))
		lp, err := sc.WindowLogProbs(toks, window, stride, show("window"))
		fmt.Fprintln(log)
		if err != nil {
			return nil, err
		}
		var p Perplexity
		if err := p.Add(lp...); err != nil {
			return nil, err
		}
		o.Tokens, o.Windows, o.Scored, o.MeanNLL, o.PPL = len(toks), len(plan), p.Tokens, p.MeanNLL(), p.Value()
	}
	o.Seconds = time.Since(t0).Seconds()
	o.TokensPer = float64(o.Scored) / o.Seconds
	return o, nil
}
