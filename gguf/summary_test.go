package gguf

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/weights"
)

func TestSummarizeValue(t *testing.T) {
	long := strings.Repeat("x", 100)
	vocab := make([]string, 150)
	for i := range vocab {
		vocab[i] = "t"
	}
	ids := make([]int32, 40)
	for _, c := range []struct {
		in   any
		want string
	}{
		{"qwen2", `"qwen2"`},
		{long, `"` + long[:60] + `"… (100 bytes)`},
		{[]string{"a", "b"}, `["a" "b"]`},
		{vocab, `["t" "t" "t" "t" "t" …] (150 strings)`},
		{ids, "[" + strings.Repeat("0 ", 29) + "0… (40 int32)"},
		{[]float32{0.5, 1}, "[0.5 1]"},
		{uint32(28), "28"},
	} {
		if got := SummarizeValue(c.in); got != c.want {
			t.Errorf("SummarizeValue(%T len %d) = %s, want %s", c.in, len(c.want), got, c.want)
		}
	}
}

func TestFileSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := NewWriter(path)
	if err := w.AddMetadata("general.architecture", "bert"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddMetadata("bert.block_count", uint32(2)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("token_embd.weight", weights.F32, []uint64{3, 2}, seq(24)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("output_norm.weight", weights.F16, []uint64{5}, seq(10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	if err := f.WriteMetadata(&b); err != nil {
		t.Fatal(err)
	}
	want := "GGUF v3 metadata (2 keys, alignment 32):\n  general.architecture  \"bert\"\n  bert.block_count      2\n"
	if b.String() != want {
		t.Errorf("metadata:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := f.WriteTensorTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "dims (GGUF order)") ||
		strings.Join(strings.Fields(lines[1]), " ") != "token_embd.weight F32 [3 2] 24" ||
		strings.Join(strings.Fields(lines[2]), " ") != "output_norm.weight F16 [5] 10" {
		t.Errorf("tensor table:\n%s", b.String())
	}
	if params, size := f.Totals(); params != 11 || size != 34 {
		t.Errorf("totals %d params, %d bytes; want 11 and 34", params, size)
	}
	b.Reset()
	if err := f.WriteInspect(&b, false, true); err != nil {
		t.Fatal(err)
	}
	if want := "GGUF v3 metadata (2 keys, alignment 32):\n  general.architecture  \"bert\"\n  bert.block_count      2\n\n2 tensors, 11 parameters (11), 34 B of weights\n"; b.String() != want {
		t.Errorf("inspect without tensors:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := f.WriteInspect(&b, true, false); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.HasPrefix(got, "\n") || !strings.Contains(got, "dims (GGUF order)") || strings.Contains(got, "metadata") {
		t.Errorf("inspect without metadata:\n%s", got)
	}
}
