package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Rows 5 and 17: ingest exits non-zero when a named input fails, names
// it, and leaves no empty knowledge base; invalid sizes are usage errors.
func TestIngestFailures(t *testing.T) {
	src := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	emptyPDF := write("empty.pdf", "")
	fakeDocx := write("fake.docx", "this is not a zip file")
	write("bad/one.pdf", "%PDF-1.4 broken")
	write("bad/two.docx", "PK not really")
	good := write("good.md", "# 量化\n\nQ8_0 把每 32 个权重存成一个缩放因子和 32 个字节。\n")
	missing := filepath.Join(src, "nope.txt")
	root := filepath.Join(t.TempDir(), "kbs")
	ingest := func(kb string, extra ...string) []string {
		return append([]string{"ingest", "--kb", kb, "--kb-dir", root, "--quiet"}, extra...)
	}
	// A failed file is named on the first line, as it happens; the last
	// line sums up, and the exit code is 1.
	for _, c := range []struct {
		name        string
		args        []string
		first, last string
	}{
		{"empty pdf", ingest("a", emptyPDF), "failed: extract " + emptyPDF + ": not a PDF",
			"ragtune: ingest into a: 1 input failed: " + emptyPDF},
		{"fake docx", ingest("b", fakeDocx), "failed: extract " + fakeDocx + ": open .docx (a zip archive)",
			"ragtune: ingest into b: 1 input failed: " + fakeDocx},
		{"folder of failures", ingest("c", filepath.Join(src, "bad")), "skipped: extract " + filepath.Join(src, "bad", "one.pdf"),
			"ragtune: ingest into c: 1 input failed: "},
	} {
		code, _, stderr := runCaptured(t, c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || !strings.HasPrefix(lines[0], c.first) || !strings.HasPrefix(lines[len(lines)-1], c.last) ||
			!strings.HasSuffix(lines[len(lines)-1], "was removed") {
			t.Errorf("%s: exit %d, stderr\n%s\nwant exit 1, first line %q, last line %q … removed", c.name, code, stderr, c.first, c.last)
		}
	}
	checkExits(t, []exitCase{
		{"missing path", ingest("d", good, missing), 1, "ragtune: ingest: input not found: " + missing + " (nothing was ingested)"},
		{"chunk size -5", ingest("e", "--chunk-size", "-5", good), 2, "ragtune: --chunk-size must be > 0, not -5"},
		{"chunk size 0", ingest("e", "--chunk-size", "0", good), 2, "ragtune: --chunk-size must be > 0, not 0"},
		{"overlap -3", ingest("e", "--overlap", "-3", good), 2, "ragtune: --overlap must be >= 0, not -3"},
		{"overlap too big", ingest("e", "--chunk-size", "50", "--overlap", "50", good), 2, "ragtune: --overlap (50) must be smaller than --chunk-size (50)"},
	})
	for _, kb := range []string{"a", "b", "c", "d", "e"} {
		if _, err := os.Stat(filepath.Join(root, kb)); err == nil {
			t.Errorf("knowledge base %s was left behind", kb)
		}
	}
	// A file named on the command line whose type is not supported is a
	// failed input too (inside a folder it would just be skipped).
	model := write("model.gguf", "GGUF")
	code, _, stderr := runCaptured(t, ingest("g", good, model)...)
	if !strings.Contains(stderr, "ragtune: ingest into g: 1 input failed: "+model) || code != 1 {
		t.Errorf("named unsupported file: exit %d\n%s", code, stderr)
	}
	// One good and one bad input: the good one is kept, the exit is 1.
	code, _, stderr = runCaptured(t, ingest("f", good, fakeDocx)...)
	if code != 1 || !strings.Contains(stderr, "1 added") || !strings.Contains(stderr, "1 input failed: "+fakeDocx) {
		t.Errorf("mixed inputs: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "f")); err != nil {
		t.Error("the knowledge base with the good document was removed")
	}
}
