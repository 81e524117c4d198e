package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// quantize --ppl-file reports both perplexities; Q8_0 on the tiny model must
// stay within a few percent of the float32 source, so a broken quantized
// path (or a report that printed one model twice) fails.
func TestQuantizePerplexityReport(t *testing.T) {
	dir := genTestModel(t)
	text := filepath.Join(t.TempDir(), "text.txt")
	body := strings.Repeat("量化把浮点权重换成低比特整数。Quantization stores weights as small integers. ", 12)
	if err := os.WriteFile(text, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "q8.gguf")
	code, stdout, stderr := runCaptured(t, "quantize", "--model", dir, "--type", "q8_0", "--out", out, "--ppl-file", text, "--ppl-window", "128")
	if code != 0 {
		t.Fatalf("quantize exit %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`source ([\d.]+) → quantized ([\d.]+) \(([-+][\d.]+)%\)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no perplexity report in %q", stdout)
	}
	before, _ := strconv.ParseFloat(m[1], 64)
	after, _ := strconv.ParseFloat(m[2], 64)
	if before <= 1 || after <= 1 {
		t.Fatalf("implausible perplexities %v → %v", before, after)
	}
	if rel := after/before - 1; rel > 0.03 || rel < -0.03 {
		t.Errorf("Q8_0 perplexity %v vs source %v: %.2f%% change, want within 3%%", after, before, 100*rel)
	}
}
