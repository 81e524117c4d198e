package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"ragtune/internal/cputime"
	"ragtune/internal/shareddata"
)

func pieces(split splitFunc, s string) []string {
	var out []string
	split(s, func(p string) { out = append(out, p) })
	return out
}

// The hand-written splitter must cut exactly where the regex does: on
// every llama.cpp input and on random strings built from the characters
// each alternative of the pattern cares about.
func TestSplitQwen2MatchesRegex(t *testing.T) {
	re, err := regexSplitter(Qwen2Pattern)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	if p := filepath.Join(shareddata.Root(), "..", "shared", "data", "tokenizer-tests", "ggml-vocab-qwen2.gguf.inp"); fileExists(p) {
		data, _ := os.ReadFile(p)
		inputs = strings.Split(string(data), "\n__ggml_vocab_test__\n")
	}
	alphabet := []string{"a", "Z", "é", "中", "文", "1", "٣", "½", " ", " ", " ", "\t", "\n", "\r", "\u3000", "\u00a0",
		"!", ".", "'", "'s", "'S", "'re", "'LL", "'ve", "'m", "'d", "'t", "'x", "\u0301", "🦙", "-", "_", "\v", "\f", "\u2028", "ⅷ"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 3000; n++ {
		var sb strings.Builder
		for k := rng.IntN(16); k >= 0; k-- {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, sb.String())
	}
	for _, s := range inputs {
		got, want := pieces(splitQwen2, s), pieces(re, s)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("split %q:\n got  %q\n want %q", s, got, want)
		}
	}
}

func TestSplitQwen2Cases(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"  Hello", []string{" ", " Hello"}},
		{"I'm here", []string{"I", "'m", " here"}},
		{"'sandwich", []string{"'s", "andwich"}},
		{"x ſ'ſ", []string{"x", " ſ", "'ſ"}}, // U+017F folds to s in the reference engines
		{"a\n\n b", []string{"a", "\n\n", " b"}},
		{"a \n  b", []string{"a", " \n", " ", " b"}},
		{"12345", []string{"1", "2", "3", "4", "5"}},
		{" !!!\n\nx", []string{" !!!\n\n", "x"}},
		{"end   ", []string{"end", "   "}},
		{"\tx", []string{"\tx"}},
		{"\t1", []string{"\t", "1"}},
		{"中文abc", []string{"中文abc"}},
		{"\xffabc\xfe", []string{"\xffabc", "\xfe"}},
	}
	for _, c := range cases {
		if got := pieces(splitQwen2, c.in); strings.Join(got, "\x00") != strings.Join(c.want, "\x00") {
			t.Errorf("split %q = %q, want %q", c.in, got, c.want)
		}
	}
}

// tinyBPE builds a tokenizer from a handful of merges over the bytes it
// needs, written as an HF tokenizer.json with the pair form of merges.
func tinyBPE(t *testing.T, merges [][2]string) *BPE {
	t.Helper()
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[byteStr[b]] = b
	}
	for _, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
	}
	b, err := newBPE(bpeSpec{vocab: vocab, merges: merges, nfc: true, pattern: Qwen2Pattern, bos: -1, eos: -1, pad: -1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tokens(b *BPE, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = b.DecodeToken(id)
	}
	return out
}

// When the best pair occurs several times, the reference merges the
// leftmost first; merging right to left would give different tokens.
func TestEqualRankMergesLeftToRight(t *testing.T) {
	b := tinyBPE(t, [][2]string{{"!", "!"}, {"!!", "!"}})
	cases := []struct {
		in   string
		want []string
	}{
		{"!!!", []string{"!!!"}},               // (!!)! then !!+!
		{"!!!!", []string{"!!", "!!"}},         // (!!)(!!), never !(!!)!
		{"!!!!!", []string{"!!", "!!!"}},       // (!!)(!!)! then the only !!+! is on the right
		{"!!!!!!", []string{"!!", "!!", "!!"}}, // no lone ! is left for !!+!
	}
	for _, c := range cases {
		if got := tokens(b, b.Encode(c.in, false)); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Encode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A rule that only fires on the right-hand pair if merging went right
	// to left: "a a" then "a aa". Left to right gives (aa)a → a stays.
	b = tinyBPE(t, [][2]string{{"a", "a"}, {"a", "aa"}})
	if got := tokens(b, b.Encode("aaa", false)); strings.Join(got, "|") != "aa|a" {
		t.Errorf("Encode(aaa) = %q, want [aa a]", got)
	}
}

func TestQwenSpecialTokens(t *testing.T) {
	q := qwen(t)
	r1 := R1FromQwen(q)
	cases := []struct {
		name string
		tk   *BPE
		in   string
		add  bool
		want []int
	}{
		{"qwen im_start", q, "<|im_start|>user", false, []int{151644, 872}},
		{"qwen no BOS", q, "hi", true, []int{6023}},
		{"r1 BOS", r1, "hi", true, []int{151646, 6023}},
		{"r1 empty with BOS", r1, "", true, []int{151646}},
		{"r1 empty", r1, "", false, nil},
		{"r1 think", r1, "<think>\nhi</think>", false, []int{151648, 198, 6023, 151649}},
		{"r1 turn", r1, "<｜User｜>hi<｜Assistant｜>", false, []int{151644, 6023, 151645}},
		{"qwen think is text", q, "<think>", false, []int{13708, 766, 29}},
	}
	for _, c := range cases {
		got := c.tk.Encode(c.in, c.add)
		if !equalIDs(got, c.want) {
			t.Errorf("%s: Encode(%q) = %v, want %v", c.name, c.in, got, c.want)
		}
	}
	if got, want := r1.BOS(), 151646; got != want {
		t.Errorf("r1 BOS = %d, want %d", got, want)
	}
	if got, want := r1.EOS(), 151643; got != want {
		t.Errorf("r1 EOS = %d, want %d", got, want)
	}
	if got := q.BOS(); got != -1 {
		t.Errorf("qwen BOS = %d, want -1", got)
	}
	if id, ok := r1.TokenID("</think>"); !ok || id != 151649 {
		t.Errorf("r1 TokenID(</think>) = %d %v", id, ok)
	}
	if !r1.IsSpecial(151643) || r1.IsSpecial(151648) || r1.IsSpecial(100) {
		t.Error("IsSpecial: want EOS special, <think> and ordinary tokens not")
	}
	// With special parsing off, a typed end-of-sentence marker is text.
	ids := r1.EncodeWith("a<｜end▁of▁sentence｜>", EncodeOptions{})
	for _, id := range ids {
		if id == r1.EOS() {
			t.Errorf("EncodeWith(ParseSpecial=false) produced EOS: %v", ids)
		}
	}
	if got := r1.Decode(ids); got != "a<｜end▁of▁sentence｜>" {
		t.Errorf("round trip = %q", got)
	}
	if got, want := r1.DecodeSkipSpecial([]int{151646, 6023, 151643}), "hi"; got != want {
		t.Errorf("DecodeSkipSpecial = %q, want %q", got, want)
	}
	if got, want := r1.VocabSize(), q.VocabSize(); got != want {
		t.Errorf("r1 vocab size %d, qwen %d", got, want)
	}
}

// Byte-level BPE encodes any bytes; invalid UTF-8 comes back unchanged.
func TestInvalidUTF8RoundTrip(t *testing.T) {
	q := qwen(t)
	for _, s := range []string{"\xff", "abc\xfe\xff def", "中\xe4\xb8", "\xe4\xb8\xad文", "\x80\x80\x80", "a\x00b"} {
		ids := q.Encode(s, false)
		if got := q.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
}

func TestRoundTripNFC(t *testing.T) {
	q := qwen(t)
	for _, s := range []string{"e\u0301cole", "Ａｎｇｓｔ 한국어 ﬁ", "混合 text, 中文；English!", "   \n\t\r\n", strings.Repeat("ab", 300)} {
		if got, want := q.Decode(q.Encode(s, false)), norm.NFC.String(s); got != want {
			t.Errorf("round trip %q = %q, want %q", s, got, want)
		}
	}
}

// mixedText returns about n bytes of Chinese/English text with numbers,
// punctuation and newlines, deterministic.
func mixedText(n int) string {
	parts := []string{
		"检索增强生成（RAG）把外部知识库与大语言模型结合起来。", "The quick brown fox jumps over 13 lazy dogs. ",
		"模型在推理时先检索相关段落，然后生成答案。", "Fine-tuning with LoRA updates only low-rank adapters; ",
		"量化到 Q4_0 可以把内存占用降低约四倍！", "It's 2026, and we're testing tokenizers.\n\n",
		"深度学习", " 3.14159 ", "  indented code()\n", "ÉCOLE naïve café ", "🙂 emoji 👍🏽\n",
	}
	rng := rand.New(rand.NewPCG(7, 9))
	var sb strings.Builder
	sb.Grow(n + 100)
	for sb.Len() < n {
		sb.WriteString(parts[rng.IntN(len(parts))])
	}
	return sb.String()
}

func TestLargeInput(t *testing.T) {
	q := qwen(t)
	s := mixedText(10 << 20)
	start := time.Now()
	ids := q.Encode(s, false)
	el := time.Since(start)
	t.Logf("10 MB: %d tokens in %v (%.1f MB/s)", len(ids), el, float64(len(s))/1e6/el.Seconds())
	if got := q.Decode(ids); got != s {
		t.Fatal("10 MB round trip differs")
	}
	if len(ids) >= len(s)/2 {
		t.Errorf("%d tokens for %d bytes: BPE is not merging", len(ids), len(s))
	}
	// One 1 MB pre-token (no spaces) must merge in n log n, not n².
	word := strings.Repeat("abcdefghij", 100_000)
	start = time.Now()
	ids = q.Encode(word, false)
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("1 MB single word took %v", el)
	}
	if got := q.Decode(ids); got != word {
		t.Fatal("1 MB word round trip differs")
	}
}

func TestConcurrentEncode(t *testing.T) {
	q := qwen(t)
	texts := make([]string, 16)
	want := make([][]int, len(texts))
	for i := range texts {
		texts[i] = mixedText(2000 + 300*i)
	}
	fresh := q.withAdded(q.AddedTokens()) // same tokenizer, empty cache
	for i, s := range texts {
		want[i] = fresh.Encode(s, false)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 4; k++ {
				i := (g + k) % len(texts)
				if got := q.Encode(texts[i], false); !equalIDs(got, want[i]) {
					t.Errorf("goroutine %d text %d: concurrent result differs", g, i)
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, wantSub string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "nope.json"},
		{"truncated", write("trunc.json", `{"model": {"type": "BPE", "vocab": {"a": 0`), "trunc.json"},
		{"not json", write("junk.json", "\x00\x01garbage"), "junk.json"},
		{"no model", write("empty.json", `{}`), "no \"model\""},
		{"bad merge", write("merge.json", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}`), "merge 0"},
		{"wordpiece", write("wp.json", `{"model":{"type":"WordPiece","vocab":{"a":0}}}`), "not byte-level BPE"},
		{"dir without file", dir, "tokenizer.json"},
	}
	for _, c := range cases {
		_, err := Load(c.path)
		if err == nil {
			t.Errorf("%s: Load succeeded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.wantSub) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.wantSub)
		}
	}
}

func TestStreamDecoder(t *testing.T) {
	text := "你好，世界！RAG 检索增强生成 🙂 done"
	check := func(name string, b *BPE) {
		t.Helper()
		ids := b.Encode(text, false)
		d := b.NewStreamDecoder()
		var out strings.Builder
		held := 0
		for _, id := range ids {
			s := d.Add(id)
			if !utf8.ValidString(s) {
				t.Errorf("%s: chunk %q is not valid UTF-8", name, s)
			}
			if s == "" {
				held++
			}
			out.WriteString(s)
		}
		out.WriteString(d.Flush())
		if out.String() != text {
			t.Errorf("%s: streamed %q, want %q", name, out.String(), text)
		}
		if held == 0 {
			t.Errorf("%s: no token ended mid-character; the test does not exercise holding back", name)
		}
	}
	check("byte-level", ByteLevelR1())
	if p := filepath.Join(shareddata.Root(), "..", "shared", "data", "qwen2.5-tokenizer"); fileExists(filepath.Join(p, "tokenizer.json")) {
		check("qwen", qwen(t))
	}
	// A truncated character at the end comes out on Flush, unchanged.
	b := ByteLevelR1()
	d := b.NewStreamDecoder()
	var got string
	for _, id := range b.Encode("a\xe4\xb8", false) {
		got += d.Add(id)
	}
	if got != "a" {
		t.Errorf("before flush %q, want %q", got, "a")
	}
	if rest := d.Flush(); rest != "\xe4\xb8" {
		t.Errorf("flush = %q", rest)
	}
}

// BenchmarkEncodeMixed measures Encode on mixed Chinese/English text with
// the Qwen2.5 vocabulary. Besides MB/s (wall) it reports MB/cpu-s, which
// is what to compare on a busy machine.
//
//	go test ./tokenizer -run '^$' -bench EncodeMixed
func BenchmarkEncodeMixed(b *testing.B) {
	q := qwen(b)
	run := func(b *testing.B, s string, cold bool) {
		b.SetBytes(int64(len(s)))
		c0 := cputime.Process()
		for b.Loop() {
			if cold {
				q.cache.init()
			}
			q.Encode(s, false)
		}
		if cpu := (cputime.Process() - c0).Seconds(); cpu > 0 {
			b.ReportMetric(float64(len(s))*float64(b.N)/1e6/cpu, "MB/cpu-s")
		}
	}
	for _, n := range []int{1 << 10, 64 << 10, 1 << 20} {
		s := mixedText(n)
		b.Run(byteSize(n), func(b *testing.B) { run(b, s, false) })
	}
	s := mixedText(1 << 20)
	b.Run("1MB-cold-cache", func(b *testing.B) { run(b, s, true) })
	// Many goroutines at once, as the server encodes.
	b.Run("64KB-parallel", func(b *testing.B) {
		s := mixedText(64 << 10)
		b.SetBytes(int64(len(s)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				q.Encode(s, false)
			}
		})
	})
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMB", n>>20)
	}
	return fmt.Sprintf("%dKB", n>>10)
}

// isNFC's shortcut must agree with the normalizer on valid text mixing
// stable characters with combining marks, Hangul jamo, compatibility
// ideographs and singletons (U+0387 → U+00B7), and may only err towards
// false: text it calls normal must come out of NFC unchanged. Text with
// invalid bytes always goes to the normalizer.
func TestIsNFC(t *testing.T) {
	alphabet := []string{"a", "e", "E", "中", "。", "🙂", "\u0301", "\u0323", "\u0302", "é", "e\u0301", "\u1100", "\u1161", "\u11a8", "가",
		"\U0002F800", "\U0001D15E", "\U0001D165", "\u2000", "Å", "\u212b", "\xff", " ", "\u0958", "\u0915\u093c", "ﬁ", "\u0344",
		"\u0387", "\u037e", "\u0340", "\u2126", "\xf7", "b", "\u00b7"}
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 20000; n++ {
		var sb strings.Builder
		for k := rng.IntN(8); k >= 0; k-- {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := sb.String()
		got := isNFC(s)
		if got && norm.NFC.String(s) != s {
			t.Fatalf("isNFC(%+q) = true, but NFC gives %+q", s, norm.NFC.String(s))
		}
		if want := norm.NFC.IsNormalString(s); utf8.ValidString(s) && got != want {
			t.Fatalf("isNFC(%+q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzEncodeRoundTrip: any input encodes without panicking and decodes
// back to its NFC form (raw bytes for input that is not UTF-8).
func FuzzEncodeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "中文 text 123", "\xff\xfe", "e\u0301", "  \n\n\t", "!!!!!!", "'s'S'll", "🙂👍🏽"} {
		f.Add(s)
	}
	b, err := TrainBPE([]string{mixedText(20_000)}, 400)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := b.Decode(b.Encode(s, true))
		want := norm.NFC.String(s)
		if got != want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", s, got, want)
		}
	})
}

func TestAppendEncode(t *testing.T) {
	q := qwen(t)
	texts := []string{"Hello world", "你好，世界", "<|im_start|>user\nhi<|im_end|>"}
	buf := []int{-7}
	for _, s := range texts {
		buf = q.AppendEncode(buf, s, EncodeOptions{ParseSpecial: true})
	}
	var want []int
	want = append(want, -7)
	for _, s := range texts {
		want = append(want, q.Encode(s, false)...)
	}
	if !equalIDs(buf, want) {
		t.Errorf("AppendEncode = %v, want %v", buf, want)
	}
	// With room in the buffer, a warm encode allocates nothing.
	buf = make([]int, 0, 64)
	q.AppendEncode(buf, texts[1], EncodeOptions{})
	if n := testing.AllocsPerRun(50, func() { q.AppendEncode(buf[:0], texts[1], EncodeOptions{}) }); n > 0 {
		t.Errorf("AppendEncode allocates %.0f times per call", n)
	}
}

// ignore_merges (Llama 3): a pre-token that is itself a vocabulary entry
// becomes that token even where the merges would split it differently.
func TestIgnoreMerges(t *testing.T) {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[byteStr[b]] = b
	}
	vocab["ab"], vocab["abc"], vocab["12"], vocab["123"] = 256, 257, 258, 259
	merges := [][2]string{{"a", "b"}, {"1", "2"}}
	for _, ignore := range []bool{false, true} {
		b, err := newBPE(bpeSpec{vocab: vocab, merges: merges, pattern: Llama3Pattern, bos: -1, eos: -1, pad: -1, ignoreMerges: ignore})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(tokens(b, b.Encode("abc 1231234", false)), "|")
		// Llama 3 splits numbers in threes: "abc", " ", "123", "123", "4".
		wantTokens := map[bool]string{false: "ab|c| |12|3|12|3|4", true: "abc| |123|123|4"}[ignore]
		if got != wantTokens {
			t.Errorf("ignoreMerges=%v: %q, want %q", ignore, got, wantTokens)
		}
		// The flag survives tokenizer.json and GGUF metadata.
		dir := t.TempDir()
		if err := b.WriteJSON(filepath.Join(dir, "tokenizer.json")); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got2 := strings.Join(tokens(back, back.Encode("abc 1231234", false)), "|"); got2 != wantTokens {
			t.Errorf("ignoreMerges=%v after reload: %q", ignore, got2)
		}
		if back.Pre() != "llama-bpe" {
			t.Errorf("pre = %q, want llama-bpe", back.Pre())
		}
	}
}
