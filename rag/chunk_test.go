package rag

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkChunks verifies the invariants every chunk must satisfy: exact
// substring at its byte span, consistent char span, size limit, order.
func checkChunks(t *testing.T, c *Chunker, text string, chunks []Chunk) {
	t.Helper()
	prevStart := -1
	for i, ch := range chunks {
		if got := text[ch.ByteStart:ch.ByteEnd]; got != ch.Text {
			t.Fatalf("chunk %d: text %q is not source[%d:%d] = %q", i, ch.Text, ch.ByteStart, ch.ByteEnd, got)
		}
		if got := utf8.RuneCountInString(text[:ch.ByteStart]); got != ch.CharStart {
			t.Fatalf("chunk %d: CharStart %d, want %d", i, ch.CharStart, got)
		}
		if got := ch.CharStart + utf8.RuneCountInString(ch.Text); got != ch.CharEnd {
			t.Fatalf("chunk %d: CharEnd %d, want %d", i, ch.CharEnd, got)
		}
		if n := c.count(ch.Text); n > c.size() {
			t.Fatalf("chunk %d: size %d > %d: %q", i, n, c.size(), ch.Text)
		}
		if ch.ByteStart <= prevStart {
			t.Fatalf("chunk %d starts at %d, not after previous start %d", i, ch.ByteStart, prevStart)
		}
		if ch.Index != i {
			t.Fatalf("chunk %d has Index %d", i, ch.Index)
		}
		prevStart = ch.ByteStart
	}
}

func texts(chunks []Chunk) []string {
	out := make([]string, len(chunks))
	for i, c := range chunks {
		out[i] = c.Text
	}
	return out
}

func TestChunkerSplits(t *testing.T) {
	tests := []struct {
		name string
		c    Chunker
		text string
		want []string
	}{
		{
			name: "chinese sentences",
			c:    Chunker{Size: 12},
			text: "今天天气很好。我们去公园散步吧！你想去吗？好的。",
			want: []string{"今天天气很好。", "我们去公园散步吧！", "你想去吗？好的。"},
		},
		{
			name: "chinese clauses when a sentence is too long",
			c:    Chunker{Size: 10},
			text: "春天来了，花儿开了，小鸟在树上唱歌，孩子们在草地上奔跑。",
			want: []string{"春天来了，花儿开了，", "小鸟在树上唱歌，", "孩子们在草地上奔跑。"},
		},
		{
			name: "characters when a clause is too long",
			c:    Chunker{Size: 4},
			text: "一二三四五六七八九十",
			want: []string{"一二三四", "五六七八", "九十"},
		},
		{
			name: "english sentences keep decimals whole",
			c:    Chunker{Size: 40},
			text: "Pi is about 3.14 in value. It never ends! Why? Nobody knows.",
			want: []string{"Pi is about 3.14 in value.", "It never ends! Why? Nobody knows."},
		},
		{
			name: "paragraphs first",
			c:    Chunker{Size: 30},
			text: "First paragraph here.\n\nSecond one is here.\n\nThird.",
			want: []string{"First paragraph here.", "Second one is here.\n\nThird."},
		},
		{
			name: "mixed scripts",
			c:    Chunker{Size: 20},
			text: "Go语言由Google开发。它支持并发, and it is fast. 很好！",
			want: []string{"Go语言由Google开发。", "它支持并发,", "and it is fast. 很好！"},
		},
		{
			name: "closing quote stays with its sentence",
			c:    Chunker{Size: 10},
			text: "他说：“走吧。”我们就走了。",
			want: []string{"他说：“走吧。”", "我们就走了。"},
		},
		{
			name: "overlap repeats trailing sentences",
			c:    Chunker{Size: 8, Overlap: 3},
			text: "甲乙丙。丁戊。己庚辛。壬癸。",
			want: []string{"甲乙丙。丁戊。", "丁戊。己庚辛。", "壬癸。"},
		},
		{
			name: "whole text fits",
			c:    Chunker{Size: 100},
			text: "  short text \n",
			want: []string{"short text"},
		},
		{
			name: "empty",
			c:    Chunker{Size: 10},
			text: " \n\n ",
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := tt.c.Split("doc.txt", "", tt.text, false)
			checkChunks(t, &tt.c, tt.text, chunks)
			got := texts(chunks)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestChunkerTokenCount(t *testing.T) {
	// A whitespace "tokenizer": sizes count words, not characters.
	words := func(s string) int { return len(strings.Fields(s)) }
	c := Chunker{Size: 4, Count: words}
	text := "one two three. four five six seven eight nine"
	chunks := c.Split("d", "", text, false)
	checkChunks(t, &c, text, chunks)
	got, want := texts(chunks), []string{"one two three.", "four five six seven", "eight nine"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestChunkerMarkdownHeadings(t *testing.T) {
	text := "# 指南\n\n简介文字。\n\n## 安装\n\n运行 go install 即可。\n\n```\n# not a heading\n```\n\n## 使用\n### 查询\n输入问题。\n# Other\nEnd."
	c := Chunker{Size: 200}
	chunks := c.Split("guide.md", "指南", text, true)
	checkChunks(t, &c, text, chunks)
	type hc struct {
		headings []string
		text     string
	}
	var got []hc
	for _, ch := range chunks {
		got = append(got, hc{ch.Headings, ch.Text})
	}
	want := []hc{
		{[]string{"指南"}, "简介文字。"},
		{[]string{"指南", "安装"}, "运行 go install 即可。\n\n```\n# not a heading\n```"},
		{[]string{"指南", "使用", "查询"}, "输入问题。"},
		{[]string{"Other"}, "End."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got, want := chunks[2].ContextText(), "指南 > 使用 > 查询\n输入问题。"; got != want {
		t.Errorf("ContextText = %q, want %q", got, want)
	}
}

func TestChunkerLongMixedDocument(t *testing.T) {
	// Property test over a long mixed document with many sizes: all
	// invariants hold and the chunks cover all non-space text.
	var b strings.Builder
	for i := 0; i < 200; i++ {
		b.WriteString("机器学习是人工智能的一个分支，它使计算机能够从数据中学习。")
		b.WriteString("Machine learning lets computers learn from data, without explicit rules. ")
		if i%7 == 0 {
			b.WriteString("\n\n")
		}
		if i%13 == 0 {
			b.WriteString(strings.Repeat("长", 90))
		}
	}
	text := b.String()
	for _, size := range []int{5, 17, 64, 300} {
		for _, overlap := range []int{0, size / 4} {
			c := Chunker{Size: size, Overlap: overlap}
			chunks := c.Split("d", "", text, false)
			checkChunks(t, &c, text, chunks)
			covered := make([]bool, len(text))
			for _, ch := range chunks {
				for i := ch.ByteStart; i < ch.ByteEnd; i++ {
					covered[i] = true
				}
			}
			for i, r := range text {
				if !covered[i] && r != ' ' && r != '\n' {
					t.Fatalf("size %d overlap %d: byte %d (%q) not in any chunk", size, overlap, i, r)
				}
			}
		}
	}
}

// unpunctuatedChinese returns n bytes (rounded down to whole runes) of
// Han characters with no boundary the splitter knows, the input that made
// the old chunker quadratic.
func unpunctuatedChinese(n int) string {
	var b strings.Builder
	for i := 0; b.Len()+3 <= n; i++ {
		b.WriteRune(rune(0x4E00 + (i*7919)%3500))
	}
	return b.String()
}

// TestChunkerWorkIsLinear counts the bytes a token-count function is
// asked to measure: doubling an unpunctuated document must about double
// that work (the old chunker quadrupled it), and the work per input byte
// must stay small.
func TestChunkerWorkIsLinear(t *testing.T) {
	work := func(n int, overlap int) int {
		var measured int
		c := Chunker{Size: 64, Overlap: overlap, Count: func(s string) int {
			measured += len(s)
			return (len(s) + 2) / 3
		}}
		text := unpunctuatedChinese(n)
		chunks := c.Split("d", "", text, false)
		if len(chunks) == 0 {
			t.Fatal("no chunks")
		}
		return measured
	}
	for _, overlap := range []int{0, 16} {
		small, large := work(64<<10, overlap), work(128<<10, overlap)
		if ratio := float64(large) / float64(small); ratio > 2.3 {
			t.Errorf("overlap %d: measuring work grew %.2f× when the text doubled (%d → %d bytes), want about 2×", overlap, ratio, small, large)
		}
		if perByte := float64(large) / float64(128<<10); perByte > 40 {
			t.Errorf("overlap %d: %.1f bytes measured per input byte, want a small constant", overlap, perByte)
		}
	}
}

// BenchmarkChunkUnpunctuated chunks 2 MiB of Chinese text without
// punctuation (every piece a hard cut) and 8 MiB of prose, at the
// server's defaults (512 code points, overlap 64).
//
//	go test ./rag -run '^$' -bench ChunkUnpunctuated -benchtime 3x
func BenchmarkChunkUnpunctuated(b *testing.B) {
	prose := strings.Repeat("机器学习是人工智能的一个分支，它使计算机能够从数据中学习。Machine learning lets computers learn from data. ", 1)
	inputs := []struct {
		name string
		text string
	}{
		{"zh-nopunct-2MiB", unpunctuatedChinese(2 << 20)},
		{"prose-8MiB", strings.Repeat(prose, (8<<20)/len(prose))},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			c := Chunker{Size: 512, Overlap: 64}
			b.SetBytes(int64(len(in.text)))
			for b.Loop() {
				if len(c.Split("d", "", in.text, false)) == 0 {
					b.Fatal("no chunks")
				}
			}
		})
	}
}
