package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

func TestCharsmapRoundTrip(t *testing.T) {
	m := map[string]string{"Ａ": "A", "①": "1", "ﬁ": "fi", "a": "b", "ab": "X", "\u3000": " ", "é": "é"}
	blob, err := BuildCharsmap(m)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := ParseCharsmap(blob)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"Ａ①ﬁ":      "A1fi",
		"abac":     "Xbc", // longest match: "ab" before "a"
		"中\u3000文": "中 文",
		"zzz":      "zzz",
		"":         "",
	} {
		if got := cm.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := ParseCharsmap(blob[:3]); err == nil {
		t.Error("truncated blob accepted")
	}
	bad := slices.Clone(blob)
	bad[0] = 0xff
	if _, err := ParseCharsmap(bad); err == nil {
		t.Error("oversized trie length accepted")
	}
}

// TestUnigramGolden checks ids for mixed Chinese/English/emoji text
// against transformers.js's Unigram tokenizer (npm @lenml/tokenizers, see
// scripts/unigram_golden.mjs) on the tokenizer.json in testdata, which
// scripts/unigram_tokenizer.go generates.
func TestUnigramGolden(t *testing.T) {
	u, err := LoadUnigram("testdata/unigram_tiny/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/unigram_tiny/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("%d golden cases", len(cases))
	}
	for _, c := range cases {
		if got := u.Encode(c.Text, true); !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q) = %v, reference %v", c.Text, got, c.IDs)
		}
	}
}

func TestUnigramPrecompiledInFile(t *testing.T) {
	blob, err := BuildCharsmap(map[string]string{"Ｈ": "H"})
	if err != nil {
		t.Fatal(err)
	}
	tj := map[string]any{
		"normalizer":     map[string]any{"type": "Precompiled", "precompiled_charsmap": base64.StdEncoding.EncodeToString(blob)},
		"pre_tokenizer":  map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0}},
		"model": map[string]any{"type": "Unigram", "unk_id": 1, "vocab": [][]any{
			{"<s>", 0.0}, {"<unk>", 0.0}, {"</s>", 0.0}, {"▁", -2.0}, {"H", -3.0}, {"i", -3.0}, {"▁Hi", -4.0}, {"▁H", -3.5},
		}},
	}
	data, _ := json.Marshal(tj)
	u, err := parseUnigram(data)
	if err != nil {
		t.Fatal(err)
	}
	// Ｈ normalizes to H, then ▁Hi is one piece (-4) beating ▁H + i (-6.5).
	if got := u.Encode("Ｈi", true); !slices.Equal(got, []int{0, 6, 2}) {
		t.Errorf("Encode = %v, want [0 6 2]", got)
	}
	// Unknown characters fuse into one unk.
	if got := u.Encode("Hi😀😀", false); !slices.Equal(got, []int{6, 1}) {
		t.Errorf("Encode with unknowns = %v, want [6 1]", got)
	}
	if got := u.EncodePair("Hi", "i"); !slices.Equal(got, []int{0, 6, 2, 2, 3, 5, 2}) {
		t.Errorf("EncodePair = %v", got)
	}
}
