package guard

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// streamAll pushes the pieces through a stream and returns the released
// text per part (and all of it in order).
func streamAll(p *Policy, pieces []Piece) (map[int]string, string, *Stream) {
	s := p.NewStream(StageOutput)
	byPart := map[int]string{}
	var all strings.Builder
	take := func(ps []Piece) {
		for _, x := range ps {
			byPart[x.Part] += x.Text
			all.WriteString(x.Text)
		}
	}
	for _, x := range pieces {
		take(s.Push(x.Part, x.Text))
	}
	take(s.Flush())
	return byPart, all.String(), s
}

func split(text string, cuts ...int) []Piece {
	var out []Piece
	last := 0
	for _, c := range cuts {
		out = append(out, Piece{0, text[last:c]})
		last = c
	}
	return append(out, Piece{0, text[last:]})
}

// chunks splits text into pieces of n bytes from offset off on.
func chunks(text string, off, n int) []Piece {
	var cuts []int
	for c := off; c < len(text); c += n {
		if c > 0 {
			cuts = append(cuts, c)
		}
	}
	return split(text, cuts...)
}

var rawDigits = regexp.MustCompile(`[0-9]{3}`)

// A spaced card or phone number after English text whose sentences end
// in '.' (no boundary the old segmenter knew): for every English prefix
// length and every place the text is split in two, and for small token
// sizes at every offset, the stream releases exactly what checking the
// whole text gives, with no three digits of either number in a row.
func TestStreamNeverSplitsPII(t *testing.T) {
	p := DefaultPolicy()
	english := strings.Repeat("The quick brown fox jumps over the lazy dog. It was late. ", 8)
	tail := "call +86 138 0013 8000 or pay with card 6222 0212 3456 7890 128"
	if k, _ := classifyNumber("6222021234567890128"); k != KindBankCard {
		t.Fatal("the test card number does not pass Luhn")
	}
	checked := 0
	for pre := 120; pre <= 320; pre += 10 {
		text := english[:pre] + tail
		want := p.Check(StageOutput, text).Text
		if rawDigits.MatchString(want) {
			t.Fatalf("whole-text check leaves digits: %q", want)
		}
		var runs [][]Piece
		for c := 1; c < len(text); c++ {
			runs = append(runs, split(text, c))
		}
		for _, n := range []int{1, 2, 3, 5, 7} {
			for off := 0; off < n; off++ {
				runs = append(runs, chunks(text, off, n))
			}
		}
		for _, pieces := range runs {
			_, got, _ := streamAll(p, pieces)
			checked++
			if got != want {
				t.Fatalf("prefix %d, pieces %+v:\n got %q\nwant %q", pre, pieces, got, want)
			}
		}
	}
	t.Logf("%d streamings checked", checked)
}

// 1,100 bytes without a boundary, then a phone number in two tokens: the
// forced cut must not split the number, wherever the tokens split it.
func TestStreamForcedCut(t *testing.T) {
	p := DefaultPolicy()
	for _, pad := range []int{900, 1000, 1100, 1200, 2100} {
		for _, x := range []string{"x", "中"} {
			prefix := strings.Repeat(x, pad/len(x))
			num := "13800138000"
			for c := 1; c < len(num); c++ {
				pieces := []Piece{{0, prefix}, {0, num[:c]}, {0, num[c:]}}
				_, got, _ := streamAll(p, pieces)
				if strings.ContainsAny(got, "0123456789") {
					t.Fatalf("pad %d %s, split %d: digits leaked: %q", pad, x, c, got[len(got)-40:])
				}
			}
			// Tokens of every size up to 13 bytes.
			for n := 1; n <= 13; n++ {
				_, got, _ := streamAll(p, chunks(prefix+num+" and more text.", len(prefix)%n, n))
				if strings.ContainsAny(got, "0123456789") {
					t.Fatalf("pad %d %s, token size %d: digits leaked", pad, x, n)
				}
			}
		}
	}
}

// Reasoning and answer are one text: a number split between them is
// masked in both, and once either is refused nothing more comes out.
func TestStreamParts(t *testing.T) {
	p := DefaultPolicy()
	reasoning := "The user asked for the number. It is 138 0013"
	answer := " 8000, call it."
	for c := 1; c <= len(reasoning); c++ {
		pieces := []Piece{{1, reasoning[:c]}, {1, reasoning[c:]}, {0, answer}}
		if c == len(reasoning) {
			pieces = []Piece{{1, reasoning}, {0, answer[:3]}, {0, answer[3:]}}
		}
		parts, _, _ := streamAll(p, pieces)
		if strings.Contains(parts[1], "0013") || strings.Contains(parts[0], "8000") {
			t.Fatalf("split %d: reasoning %q, answer %q", c, parts[1], parts[0])
		}
		if !strings.HasPrefix(parts[1], "The user asked") || !strings.HasSuffix(parts[0], ", call it.") {
			t.Fatalf("split %d: text around the number lost: %q / %q", c, parts[1], parts[0])
		}
	}
	// A refused reasoning ends everything, the answer included.
	pieces := []Piece{{1, "Let me think. The user wants to know how to kill someone. "}, {1, strings.Repeat("More thoughts here. ", 20)}, {0, "Here is the answer."}, {0, strings.Repeat(" And more.", 40)}}
	parts, _, s := streamAll(p, pieces)
	if !s.Refused() || parts[0] != "" || strings.Contains(parts[1], "kill") {
		t.Fatalf("refused = %v, reasoning %q, answer %q", s.Refused(), parts[1], parts[0])
	}
	if s.Acted() == 0 {
		t.Error("Acted() = 0 after a refusal")
	}
	// A partial mask never shows more of a number cut by the parts.
	pp := DefaultPolicy()
	pp.Mask = MaskPartial
	parts, _, _ = streamAll(pp, []Piece{{1, "number 138 00"}, {0, "13 8000 ok"}})
	if strings.ContainsAny(parts[1]+parts[0], "0123456789") {
		t.Errorf("partial mask across parts shows digits: %q / %q", parts[1], parts[0])
	}
}

// Text with sentence ends streams: most of it is out before the end.
func TestStreamReleasesEarly(t *testing.T) {
	p := DefaultPolicy()
	for _, unit := range []string{"The weather is nice today. ", "今天天气很好，我们去公园散步。", "No punctuation at all here "} {
		text := strings.Repeat(unit, 80)
		s := p.NewStream(StageOutput)
		released := 0
		for _, x := range chunks(text, 0, 4) {
			for _, y := range s.Push(x.Part, x.Text) {
				released += len(y.Text)
			}
		}
		if released < len(text)-streamWindow-len(unit) {
			t.Errorf("%q×80: %d of %d bytes released before the end", unit, released, len(text))
		}
		rest := 0
		for _, y := range s.Flush() {
			rest += len(y.Text)
		}
		if released+rest != len(text) {
			t.Errorf("%q×80: %d bytes out, want %d", unit, released+rest, len(text))
		}
	}
}

// A nil policy passes text straight through.
func TestStreamNilPolicy(t *testing.T) {
	var p *Policy
	s := p.NewStream(StageOutput)
	if got := s.Push(0, "13800138000"); len(got) != 1 || got[0].Text != "13800138000" {
		t.Errorf("nil policy: %v", got)
	}
}

func ExampleStream() {
	s := DefaultPolicy().NewStream(StageOutput)
	var out strings.Builder
	for _, tok := range []string{"Call me at 138 ", "0013", " 8000. Thanks."} {
		for _, p := range s.Push(0, tok) {
			out.WriteString(p.Text)
		}
	}
	for _, p := range s.Flush() {
		out.WriteString(p.Text)
	}
	fmt.Println(out.String())
	// Output: Call me at *************. Thanks.
}

// The same for the other spellings the detectors know and for lexicon
// terms split by separators: every split in two, and small tokens.
func TestStreamVariantsEverySplit(t *testing.T) {
	p := DefaultPolicy()
	p.Mask = MaskPartial
	texts := []string{
		"你好。我们的座机是(010) 6234 5678，手机一三八 零零一三 八零零零。请发邮件到 zhang [at] example [dot] com 或 张三@例子.中国。谢谢。",
		"Notes. The ID is 110105.19491231.002X. Card 6222.0212.3456.7890.128 expires. Tel 138  0013  8000. Done.",
		strings.Repeat("今天天气很好。", 30) + "他问了杀 人\n方-法，我们拒绝了。" + strings.Repeat("好的。", 10),
	}
	for _, text := range texts {
		whole := p.Check(StageOutput, text)
		if len(whole.Findings) == 0 {
			t.Fatalf("no findings in %q", text)
		}
		var runs [][]Piece
		for c := 1; c < len(text); c++ {
			runs = append(runs, split(text, c))
		}
		for _, n := range []int{1, 3, 4} {
			for off := 0; off < n; off++ {
				runs = append(runs, chunks(text, off, n))
			}
		}
		for _, pieces := range runs {
			_, got, s := streamAll(p, pieces)
			if whole.Action == Refuse {
				if !s.Refused() || strings.Contains(got, "杀") {
					t.Fatalf("pieces %+v: refused %v, released %q", pieces, s.Refused(), got)
				}
				continue
			}
			if got != whole.Text {
				t.Fatalf("pieces %+v:\n got %q\nwant %q", pieces, got, whole.Text)
			}
		}
	}
}

// BenchmarkStream measures the output guard on a generation: mixed
// Chinese and English text with numbers, streamed in 4-byte tokens.
func BenchmarkStream(b *testing.B) {
	unit := "The weather is nice today. 今天天气很好，电话 138 0013 8000。No punctuation here at all for a while "
	text := strings.Repeat(unit, 64<<10/len(unit))
	pieces := chunks(text, 0, 4)
	p := DefaultPolicy()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		s := p.NewStream(StageOutput)
		for _, x := range pieces {
			s.Push(x.Part, x.Text)
		}
		s.Flush()
	}
}

// A link of many kilobytes streams out too: the pending text, and with it
// the work per token, stays bounded.
func TestStreamLongFindingBounded(t *testing.T) {
	p := DefaultPolicy()
	text := "see https://example.com/" + strings.Repeat("a", 20000) + " ok"
	s := p.NewStream(StageOutput)
	released := 0
	for _, x := range chunks(text, 0, 4) {
		for _, y := range s.Push(x.Part, x.Text) {
			released += len(y.Text)
		}
		if held := s.pending.Len(); held > 2*streamMaxHold {
			t.Fatalf("%d bytes held", held)
		}
	}
	if released < len(text)-2*streamMaxHold {
		t.Errorf("%d of %d bytes released before the end", released, len(text))
	}
}

// The hold window covers the longest number the detectors report, in its
// widest spelling (full-width digits and doubled full-width separators,
// spaced Chinese numerals), with the lookahead to spare.
func TestStreamWindowCoversNumbers(t *testing.T) {
	for _, text := range []string{
		"ID １１０１０５－－１９４９１２３１－－００２Ｘ ok",
		"card ６２２２－－０２１２－－３４５６－－７８９０－－１２８ ok",
		"tel 一　三　八　零　零　一　三　八　零　零　零 ok",
		"tel ＋８６－－１３８－－００１３－－８０００ ok",
		"座机 （０１０）　６２３４－－５６７８ ok",
	} {
		fs := FindPII(text)
		if len(fs) != 1 {
			t.Fatalf("FindPII(%q) = %+v, want one finding", text, fs)
		}
		if n := fs[0].End - fs[0].Start; n > streamWindow-streamLookahead {
			t.Errorf("%q: a %d-byte finding, over the window less lookahead (%d)", text, n, streamWindow-streamLookahead)
		}
	}
}
