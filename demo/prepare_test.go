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
		{f.Questions, len(QAPairs()) + len(GeneralQA()), true},
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
