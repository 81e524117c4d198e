package eval

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuantizationReport: the report's figures are PerplexityOfFile's on
// each model, the change is relative to the source, and the comparison
// line appears only with a model quantized without the matrix. Three
// differently seeded tiny models stand in for source and quantizations.
func TestQuantizationReport(t *testing.T) {
	src, q, plain := tinyDir(t, 3), tinyDir(t, 4), tinyDir(t, 5)
	file := filepath.Join(t.TempDir(), "heldout.txt")
	if err := os.WriteFile(file, []byte(strings.Repeat("Quantization keeps the model small. 量化。", 6)), 0o644); err != nil {
		t.Fatal(err)
	}
	const window = 32
	ppl := func(m string) float64 {
		t.Helper()
		r, err := PerplexityOfFile(m, "", file, window, window/2, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return r.PPL
	}
	ps, pq, pp := ppl(src), ppl(q), ppl(plain)
	r, _ := PerplexityOfFile(src, "", file, window, window/2, io.Discard)

	var b bytes.Buffer
	if err := QuantizationReport(&b, src, q, "", file, window, 3<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	first := fmt.Sprintf("perplexity on %s (%d tokens, window %d): source %.4f → quantized %.4f (%+.2f%%); size 3.0 MiB → 1.0 MiB\n",
		file, r.Scored, window, ps, pq, 100*(pq/ps-1))
	if b.String() != first {
		t.Errorf("report\n%q\nwant\n%q", b.String(), first)
	}

	b.Reset()
	if err := QuantizationReport(&b, src, q, plain, file, window, 3<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	second := fmt.Sprintf("  with the importance matrix %.4f (%+.2f%%), without it %.4f (%+.2f%%)\n", pq, 100*(pq/ps-1), pp, 100*(pp/ps-1))
	if b.String() != first+second {
		t.Errorf("report with plain\n%q\nwant\n%q", b.String(), first+second)
	}

	// A model that fails is named; what was measured before stays written.
	b.Reset()
	missing := filepath.Join(t.TempDir(), "missing")
	err := QuantizationReport(&b, src, q, missing, file, window, 1, 1)
	if err == nil || !strings.Contains(err.Error(), "perplexity of "+missing) || !strings.HasPrefix(b.String(), "perplexity on ") {
		t.Errorf("failing plain model: %v, output %q", err, b.String())
	}
}
