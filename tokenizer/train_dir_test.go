package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTrainToDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tok")
	corpus := []string{"low lower lowest", "new newer newest", "low low new new"}
	tok, err := TrainToDir(dir, corpus, 300, "{{ messages }}", R1SpecialTokens()...)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.VocabSize() != tok.VocabSize() || back.NumMerges() != tok.NumMerges() || back.NumMerges() == 0 {
		t.Errorf("written %d tokens/%d merges, read back %d/%d", tok.VocabSize(), tok.NumMerges(), back.VocabSize(), back.NumMerges())
	}
	if back.ChatTemplate != "{{ messages }}" {
		t.Errorf("chat template %q not written", back.ChatTemplate)
	}
	for _, s := range corpus {
		if got, want := back.Encode(s, false), tok.Encode(s, false); !slices.Equal(got, want) {
			t.Errorf("%q encodes as %v after reading back, %v before", s, got, want)
		}
	}
	if _, err := TrainToDir(dir, corpus, 10, ""); err == nil || !strings.HasPrefix(err.Error(), "train tokenizer: ") {
		t.Errorf("a vocabulary below 256 bytes: %v", err)
	}
	blocked := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocked, nil, 0o644)
	if _, err := TrainToDir(filepath.Join(blocked, "tok"), corpus, 300, ""); err == nil {
		t.Error("a directory under a file was created")
	}
}
