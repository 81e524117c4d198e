package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"ragtune/internal/cli"
	"ragtune/internal/plural"
)

// LoadLabeled is LoadModel for a command: it first checks that path names
// a model (cli.ModelPath, whose errors say what to do), labels the model
// ("base", "tuned") and tells log what it loaded and how long that took.
func LoadLabeled(label, path, adapter string, o LoadOptions, log io.Writer) (*Model, error) {
	if err := cli.ModelPath(path); err != nil {
		return nil, err
	}
	t0 := time.Now()
	m, err := LoadModel(path, adapter, o)
	if err != nil {
		return nil, err
	}
	m.Label = label
	what := path
	if adapter != "" {
		what += " + " + adapter
	}
	fmt.Fprintf(log, "loaded %s %s in %s\n", label, what, time.Since(t0).Round(time.Millisecond))
	return m, nil
}

// PerplexityOfFile is 'ragtune eval perplexity' after its flags: read file
// ("-": standard input), check it before the model loads, load the model
// (announced on log) and score the text with FilePerplexity.
func PerplexityOfFile(modelPath, adapter, file string, window, stride int, log io.Writer) (*FilePerplexityResult, error) {
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read text: %w", err)
	}
	text, err := ParsePerplexityText(file, b)
	if err != nil {
		return nil, err
	}
	m, err := LoadLabeled("model", modelPath, adapter, LoadOptions{}, log)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return FilePerplexity(m, text, window, stride, log)
}

// WriteText writes the result the way 'ragtune eval perplexity' prints it
// without --json.
func (r *FilePerplexityResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "tokens      %d (%d scored)\nwindow      %d, stride %d, %s\nmean NLL    %.4f nats/token\nperplexity  %.4f\n",
		r.Tokens, r.Scored, r.Window, r.Stride, plural.Count(r.Windows, "window"), r.MeanNLL, r.PPL)
	if r.Samples > 0 {
		fmt.Fprintf(w, "samples     %d: per-sample perplexity mean %.4f, median %.4f\n", r.Samples, r.MeanOfSamples, r.MedianOfSamples)
	}
}

// WriteJSON writes the result as indented JSON, the output of 'ragtune
// eval perplexity --json'.
func (r *FilePerplexityResult) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
