package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// An R1 tokenizer written as tokenizer.json + tokenizer_config.json must
// load back into the same tokenizer: all vectors, BOS, added tokens and
// the chat template.
func TestWriteJSONRoundTrip(t *testing.T) {
	r1 := R1FromQwen(qwen(t))
	r1.ChatTemplate = "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"
	dir := t.TempDir()
	if err := r1.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	if err := r1.WriteConfig(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, back, "ggml-vocab-deepseek-r1-qwen.gguf")
	if got, want := back.Encode("<think>x</think>", true), r1.Encode("<think>x</think>", true); !equalIDs(got, want) {
		t.Errorf("Encode after reload = %v, want %v", got, want)
	}
	if got, want := back.AddedTokens(), r1.AddedTokens(); !reflect.DeepEqual(got, want) {
		t.Errorf("added tokens differ after reload:\n got  %+v\n want %+v", got[:8], want[:8])
	}
	if back.ChatTemplate != r1.ChatTemplate || back.BOS() != 151646 || back.EOS() != 151643 || back.Pad() != 151643 || back.Pre() != "deepseek-r1-qwen" {
		t.Errorf("reloaded: template %q bos %d eos %d pad %d pre %q", back.ChatTemplate, back.BOS(), back.EOS(), back.Pad(), back.Pre())
	}
	// The config names the tokens, as transformers expects.
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["bos_token"] != "<｜begin▁of▁sentence｜>" || cfg["eos_token"] != "<｜end▁of▁sentence｜>" || cfg["add_bos_token"] != true {
		t.Errorf("tokenizer_config.json: bos %v eos %v add_bos %v", cfg["bos_token"], cfg["eos_token"], cfg["add_bos_token"])
	}
	// Qwen itself keeps no BOS through a round trip.
	q := qwen(t)
	qdir := t.TempDir()
	if err := q.WriteJSON(filepath.Join(qdir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	qb, err := Load(filepath.Join(qdir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, qb, "ggml-vocab-qwen2.gguf")
	if qb.AddsBOS() || qb.Pre() != "qwen2" {
		t.Errorf("qwen reload: adds BOS %v, pre %q", qb.AddsBOS(), qb.Pre())
	}
}

func TestByteLevelR1(t *testing.T) {
	b := ByteLevelR1()
	if got, want := b.VocabSize(), 263; got != want {
		t.Fatalf("vocab size %d, want %d", got, want)
	}
	for i, name := range []string{r1EOS, r1User, r1Assistant, r1BOS, r1EOT, r1Think, r1EndThink} {
		if id, ok := b.TokenID(name); !ok || id != 256+i {
			t.Errorf("TokenID(%q) = %d %v, want %d", name, id, ok, 256+i)
		}
	}
	if b.BOS() != 259 || b.EOS() != 256 {
		t.Errorf("BOS %d EOS %d, want 259 256", b.BOS(), b.EOS())
	}
	s := "<｜User｜>中a<think>"
	got := b.Encode(s, true)
	want := []int{259, 257, 0xe4, 0xb8, 0xad, 'a', 261}
	if !equalIDs(got, want) {
		t.Errorf("Encode(%q) = %v, want %v", s, got, want)
	}
	if d := b.Decode(got[1:]); d != s {
		t.Errorf("Decode = %q", d)
	}
	// Written out and read back, as model init does.
	dir := t.TempDir()
	if err := b.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	back, err := Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got2 := back.Encode(s, true); !equalIDs(got2, want) {
		t.Errorf("reloaded Encode = %v, want %v", got2, want)
	}
}

func TestTrainBPE(t *testing.T) {
	corpus := []string{
		mixedText(40_000),
		"检索增强生成把知识库和模型结合。The model retrieves passages, then answers.\n",
		"<｜User｜>什么是量化？<｜Assistant｜><think>\n量化降低精度。\n</think>\n\n量化把权重从 16 位降到 4 位。",
	}
	b, err := TrainBPE(corpus, 500, R1SpecialTokens()...)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.VocabSize(), 500; got != want {
		t.Errorf("vocab size %d, want %d", got, want)
	}
	// Asked for more than the corpus supports, training stops when no
	// pair occurs twice.
	if big, err := TrainBPE(corpus, 100_000); err != nil || big.VocabSize() >= 100_000 || big.VocabSize() <= 500 {
		t.Errorf("large request: vocab %d, err %v", big.VocabSize(), err)
	}
	if id, ok := b.TokenID("<think>"); !ok || id != 261 {
		t.Errorf("<think> = %d %v, want 261", id, ok)
	}
	text := "检索增强生成（RAG）把外部知识库与大语言模型结合起来。It's fine-tuning time!"
	ids := b.Encode(text, false)
	if got := b.Decode(ids); got != text {
		t.Errorf("round trip %q", got)
	}
	t.Logf("%d tokens for %d bytes", len(ids), len(text))
	if len(ids)*10 > len(text)*7 {
		t.Errorf("%d tokens for %d bytes: training did not compress", len(ids), len(text))
	}
	if got := b.Encode("<think>", false); !equalIDs(got, []int{261}) {
		t.Errorf("special split by training: %v", got)
	}
	// Deterministic: the same corpus gives the same merges.
	b2, err := TrainBPE(corpus, 500, R1SpecialTokens()...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.mergeList, b2.mergeList) {
		t.Error("training twice gave different merges")
	}
	// A trained tokenizer survives tokenizer.json and GGUF metadata.
	dir := t.TempDir()
	if err := b.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := FromGGUFMetadata(b.GGUFMetadata())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{text, corpus[2], strings.Repeat("ab ", 50)} {
		want := b.Encode(s, true)
		if got := back.Encode(s, true); !equalIDs(got, want) {
			t.Errorf("tokenizer.json reload: %v, want %v", got, want)
		}
		if got := g.Encode(s, true); !equalIDs(got, want) {
			t.Errorf("GGUF reload: %v, want %v", got, want)
		}
	}
	if _, err := TrainBPE(nil, 1000); err == nil {
		t.Error("empty corpus accepted")
	}
	if _, err := TrainBPE(corpus, 100); err == nil {
		t.Error("vocabulary below 256 accepted")
	}
}
