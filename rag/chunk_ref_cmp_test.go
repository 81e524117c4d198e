package rag

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// chunkCorpus is a varied set of documents for comparing chunker
// versions: Chinese and English prose, Markdown with headings and fences,
// text without any punctuation, one very long line, CRLF paragraphs, and
// random mixes of every boundary character the splitter knows.
func chunkCorpus() map[string]string {
	docs := map[string]string{
		"chinese":     strings.Repeat("机器学习是人工智能的一个分支，它使计算机能够从数据中学习。深度学习使用多层神经网络！你知道吗？“是的。”他说；", 12),
		"english":     strings.Repeat("Machine learning lets computers learn from data, without explicit rules. Pi is 3.14; e.g.x stays whole! Really? Yes. ", 12),
		"markdown":    "# 指南\n\n简介文字。\n\n## 安装\n\n" + strings.Repeat("运行 go install 即可，然后检查版本。", 10) + "\n\n```\n# not a heading\n```\n\n## 使用\n### 查询\n输入问题。\n# Other\nEnd.\n" + strings.Repeat("## 小节\n内容，很多内容。\n", 20),
		"nopunct-zh":  strings.Repeat("这是一段没有任何标点符号的中文文本用来测试硬切分的行为", 30),
		"nopunct-en":  strings.Repeat("abcdefghij", 150),
		"long-line":   strings.Repeat("word ", 400),
		"crlf":        strings.Repeat("Line one.\r\n\r\nLine two, with a clause.\r\n   \r\n", 20),
		"closers":     strings.Repeat("他说：“走吧。”（好的！）『是。』 \"Yes.\" 'No!' ", 20),
		"empty":       "",
		"spaces-only": " \n\n \t ",
		"one-rune":    "字",
	}
	r := rand.New(rand.NewPCG(7, 7))
	alphabet := []string{"中", "文", "字", "a", "b", "Z", "1", " ", "\n", "\n\n", "。", "！", "？", "；", "!", "?", ";", ".", ". ", "，", ",", "、", "：", ":", "”", "』", ")", "\t", "\r\n", "# ", "## ", "```\n", "é", "😀"}
	for i := range 12 {
		var b strings.Builder
		n := 100 + r.IntN(900)
		for range n {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
			if r.IntN(9) == 0 { // runs without any boundary
				b.WriteString(strings.Repeat("长", r.IntN(80)))
			}
		}
		docs[fmt.Sprintf("random-%02d", i)] = b.String()
	}
	return docs
}

// TestChunkerMatchesReference checks the linear chunker against the
// quadratic one it replaced (chunk_ref_test.go): every chunk field must
// be identical for every corpus document, size, overlap, counting unit and
// Markdown mode, because demo figures and goldens depend on the chunks.
func TestChunkerMatchesReference(t *testing.T) {
	words := func(s string) int { return len(strings.Fields(s)) }
	// bytesPer3 approximates a byte-level tokenizer: monotone in the prefix
	// length and roughly additive.
	bytesPer3 := func(s string) int { return (len(s) + 2) / 3 }
	counts := map[string]func(string) int{"runes": nil, "words": words, "bytes/3": bytesPer3}
	for name, text := range chunkCorpus() {
		for cname, count := range counts {
			for _, size := range []int{1, 3, 7, 16, 50, 128, 512} {
				for _, overlap := range []int{0, 1, size / 3} {
					for _, md := range []bool{false, true} {
						c := Chunker{Size: size, Overlap: overlap, Count: count}
						got := c.Split("doc.md", "标题", text, md)
						want := refSplit(&c, "doc.md", "标题", text, md)
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s, count %s, size %d, overlap %d, markdown %v: chunks differ\n got %d: %q\nwant %d: %q",
								name, cname, size, overlap, md, len(got), texts(got), len(want), texts(want))
						}
					}
				}
			}
		}
	}
	// NoHeadingContext and the default size.
	text := chunkCorpus()["markdown"]
	for _, c := range []Chunker{{NoHeadingContext: true, Size: 20}, {}} {
		if got, want := c.Split("d", "", text, true), refSplit(&c, "d", "", text, true); !reflect.DeepEqual(got, want) {
			t.Fatalf("chunker %+v: chunks differ", c)
		}
	}
}
