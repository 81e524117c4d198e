package tokenizer

import (
	"path/filepath"
	"slices"
	"testing"
)

// The tiny Llama 3 and Qwen3 vocabularies survive tokenizer.json and keep
// their family's pre-tokenizer, special tokens and BOS/EOS (the last from
// tokenizer_config.json, as HF keeps them).
func TestByteLevelFamilies(t *testing.T) {
	for _, c := range []struct {
		name     string
		tok      *BPE
		pre      string
		bos, eos int
		think    int
	}{
		{"llama3-r1", ByteLevelLlama3R1(), "llama-bpe", 259, 256, 261},
		{"qwen3", ByteLevelQwen3(), "qwen2", -1, 258, 259},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tokenizer.json")
			if err := c.tok.WriteJSON(path); err != nil {
				t.Fatal(err)
			}
			if err := c.tok.WriteConfig(dir); err != nil {
				t.Fatal(err)
			}
			back, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range []*BPE{c.tok, back} {
				if b.Pre() != c.pre || b.BOS() != c.bos || b.EOS() != c.eos {
					t.Errorf("pre %q bos %d eos %d, want %q %d %d", b.Pre(), b.BOS(), b.EOS(), c.pre, c.bos, c.eos)
				}
				if id, ok := b.TokenID("<think>"); !ok || id != c.think {
					t.Errorf("<think> = %d %v, want %d", id, ok, c.think)
				}
				got := b.Encode("x1234<think>é", false)
				want := []int{'x', '1', '2', '3', '4', c.think, 0xc3, 0xa9}
				if !slices.Equal(got, want) {
					t.Errorf("Encode = %v, want %v", got, want)
				}
			}
		})
	}
}
