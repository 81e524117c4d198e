package demo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"ragtune/train/data"
)

func TestSplitQADeterministicAndDisjoint(t *testing.T) {
	qa := QAPairs()
	tr1, te1 := SplitQA(qa, 0.2, 42)
	tr2, te2 := SplitQA(qa, 0.2, 42)
	if !reflect.DeepEqual(te1, te2) || !reflect.DeepEqual(tr1, tr2) {
		t.Fatal("the same seed gave different splits")
	}
	if got, want := len(te1), int(0.2*float64(len(qa))+0.5); got != want {
		t.Errorf("held out %d of %d, want %d", got, len(qa), want)
	}
	seen := map[string]bool{}
	for _, q := range tr1 {
		seen[q.Instruction] = true
	}
	for _, q := range te1 {
		if seen[q.Instruction] {
			t.Errorf("%q is in both splits", q.Instruction)
		}
		if q.Source == "" {
			t.Errorf("held-out %q has no source to check citations against", q.Instruction)
		}
	}
	if _, te3 := SplitQA(qa, 0.2, 7); reflect.DeepEqual(te1, te3) {
		t.Error("seeds 42 and 7 held out the same questions")
	}
}

// The files the demo writes are read by the commands' own readers.
func TestWriteFilesReadable(t *testing.T) {
	dir := t.TempDir()
	f, err := WriteFiles(dir, 0.2, 42)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		rows int
		text bool
	}{
		{f.Pretrain, len(Corpus()) + len(GeneralText()), true},
		{f.QATrain, f.NumTrain, false},
		{f.QATest, f.NumTest, false},
		{f.General, len(GeneralQA()), false},
	}
	for _, tc := range tests {
		exs, _, err := data.ReadFile(tc.path, false)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if len(exs) != tc.rows || (exs[0].Text != "") != tc.text {
			t.Errorf("%s: %d rows (text %v), want %d (text %v)", tc.path, len(exs), exs[0].Text != "", tc.rows, tc.text)
		}
	}
	entries, err := os.ReadDir(f.Corpus)
	if err != nil || len(entries) != len(Corpus()) {
		t.Errorf("corpus folder: %d files, %v", len(entries), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "heldout_answers.txt")); err != nil {
		t.Error(err)
	}
}

func TestTrainTokenizerR1Layout(t *testing.T) {
	tok, err := TrainTokenizer(700)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.VocabSize(); got > 700 || got < 400 {
		t.Errorf("vocabulary %d, want at most 700 and most of it learned", got)
	}
	for _, s := range []string{"<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"} {
		if _, ok := tok.TokenID(s); !ok {
			t.Errorf("special token %s missing", s)
		}
	}
	if tok.EOS() != 256 || tok.BOS() < 0 || tok.ChatTemplate == "" {
		t.Errorf("EOS %d, BOS %d, template %d bytes: want R1's layout and template", tok.EOS(), tok.BOS(), len(tok.ChatTemplate))
	}
	text := "微调 LoRA quantization 量化"
	if got := tok.Decode(tok.Encode(text, false)); got != text {
		t.Errorf("round trip %q → %q", text, got)
	}
}

func TestModelConfigValid(t *testing.T) {
	for _, quick := range []bool{false, true} {
		c := ModelConfig(quick)
		if err := c.Validate(); err != nil {
			t.Errorf("quick=%v: %v", quick, err)
		}
		if c.NumKeyValueHeads >= c.NumAttentionHeads {
			t.Errorf("quick=%v: %d KV heads for %d heads, want GQA", quick, c.NumKeyValueHeads, c.NumAttentionHeads)
		}
	}
}
