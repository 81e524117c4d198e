package data

import (
	"strings"
	"testing"

	"ragtune/internal/shareddata"
)

func TestReadForms(t *testing.T) {
	tests := []struct {
		name, in string
		want     [][]Message
		wantSrc  []string
	}{
		{"alpaca-json", "[\n {\"instruction\": \"Add\", \"input\": \"1+1\", \"output\": \"2\"},\n {\"instruction\": \"Hi\", \"output\": \"Hello\", \"system\": \"Be brief\"}\n]",
			[][]Message{{{Role: "user", Content: "Add\n\n1+1"}, {Role: "assistant", Content: "2"}},
				{{Role: "system", Content: "Be brief"}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"}}},
			[]string{"f:2", "f:3"}},
		{"messages-jsonl", `{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "reasoning_content": "think"}]}` + "\n\n" +
			`{"conversations": [{"from": "human", "value": "Q2"}, {"from": "gpt", "value": "A2"}]}`,
			[][]Message{{{Role: "user", Content: "Q"}, {Role: "assistant", Content: "A", ReasoningContent: "think"}},
				{{Role: "user", Content: "Q2"}, {Role: "assistant", Content: "A2"}}},
			[]string{"f:1", "f:3"}},
		{"medical-o1", `{"Question": "Why?", "Complex_CoT": "Because.", "Response": "So."}`,
			[][]Message{{{Role: "user", Content: "Why?"}, {Role: "assistant", Content: "So.", ReasoningContent: "Because."}}},
			[]string{"f:1"}},
		{"bilingual-pairs", `[{"id": "x", "q_en": "What?", "a_en": "This.", "q_zh": "什么？", "a_zh": "这个。"}]`,
			[][]Message{{{Role: "user", Content: "What?"}, {Role: "assistant", Content: "This."}},
				{{Role: "user", Content: "什么？"}, {Role: "assistant", Content: "这个。"}}},
			[]string{"f:1", "f:1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := Read("f", []byte(tc.in), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d examples, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if g, w := got[i].Source, tc.wantSrc[i]; g != w {
					t.Errorf("example %d source %q, want %q", i, g, w)
				}
				for j := range tc.want[i] {
					if j >= len(got[i].Messages) || got[i].Messages[j] != tc.want[i][j] {
						t.Errorf("example %d: messages %+v, want %+v", i, got[i].Messages, tc.want[i])
						break
					}
				}
			}
		})
	}
}

func TestReadMalformed(t *testing.T) {
	in := "{\"instruction\": \"ok\", \"output\": \"fine\"}\n{\"instruction\": \"no output\"}\nnot json\n{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n{\"instruction\": \"ok2\", \"output\": \"fine2\"}\n"
	_, _, err := Read("d.jsonl", []byte(in), false)
	if err == nil || !strings.Contains(err.Error(), "d.jsonl:2") || !strings.Contains(err.Error(), "--skip-bad") {
		t.Errorf("error = %v, want one naming d.jsonl:2 and --skip-bad", err)
	}
	got, st, err := Read("d.jsonl", []byte(in), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || st.Skipped != 3 || st.Rows != 5 {
		t.Errorf("got %d examples, %d skipped of %d rows; want 2, 3 of 5", len(got), st.Skipped, st.Rows)
	}
	if !strings.HasPrefix(st.FirstSkip, "d.jsonl:2") {
		t.Errorf("first skip %q, want d.jsonl:2", st.FirstSkip)
	}
	// A JSON array reports the element's line.
	_, _, err = Read("a.json", []byte("[\n{\"instruction\": \"a\", \"output\": \"b\"},\n\n{\"instruction\": 3, \"output\": \"b\"}\n]"), false)
	if err == nil || !strings.Contains(err.Error(), "a.json:4") {
		t.Errorf("error = %v, want one naming a.json:4", err)
	}
}

// runeEncoder gives each rune its own id and each listed marker one id, a
// stand-in for a BPE tokenizer with special tokens.
type runeEncoder struct{ markers []string }

func (e runeEncoder) Encode(s string, _ bool) []int {
	var ids []int
	for len(s) > 0 {
		hit := false
		for i, m := range e.markers {
			if strings.HasPrefix(s, m) {
				ids = append(ids, 1_000_000+i)
				s = s[len(m):]
				hit = true
				break
			}
		}
		if !hit {
			r := []rune(s)[0]
			ids = append(ids, int(r))
			s = s[len(string(r)):]
		}
	}
	return ids
}

func (e runeEncoder) decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if id >= 1_000_000 {
			b.WriteString(e.markers[id-1_000_000])
		} else {
			b.WriteRune(rune(id))
		}
	}
	return b.String()
}

// r1Render mimics the DeepSeek-R1 template: BOS, system text, user and
// assistant markers, and history that drops everything up to </think>.
func r1Render(msgs []Message, gen bool) (string, error) {
	var b strings.Builder
	b.WriteString("<BOS>")
	for _, m := range msgs {
		if m.Role == "system" {
			b.WriteString(m.Content)
		}
	}
	for _, m := range msgs {
		switch m.Role {
		case "user":
			b.WriteString("<User>" + m.Content)
		case "assistant":
			c := m.Content
			if i := strings.LastIndex(c, "</think>"); i >= 0 {
				c = c[i+len("</think>"):]
			}
			b.WriteString("<Assistant>" + c + "<EOS>")
		}
	}
	if gen {
		b.WriteString("<Assistant><think>\n")
	}
	return b.String(), nil
}

func TestEncodeMasksAllButFinalAssistant(t *testing.T) {
	enc := runeEncoder{markers: []string{"<BOS>", "<User>", "<Assistant>", "<EOS>", "<think>", "</think>"}}
	ex := Example{Source: "x:1", Messages: []Message{
		{Role: "user", Content: "first"},
		{Role: "assistant", Content: "<think>\nold\n</think>\n\nearlier"},
		{Role: "user", Content: "why?"},
		{Role: "assistant", Content: "because", ReasoningContent: "let me think"},
	}}
	s, err := Encode(ex, r1Render, enc, 0)
	if err != nil {
		t.Fatal(err)
	}
	var prompt, target []int32
	for i, l := range s.Labels {
		if l == -100 {
			if len(target) > 0 {
				t.Fatalf("masked token after the target at %d", i)
			}
			prompt = append(prompt, s.Tokens[i])
		} else {
			if l != s.Tokens[i] {
				t.Fatalf("label %d != token %d at %d", l, s.Tokens[i], i)
			}
			target = append(target, l)
		}
	}
	if got, want := enc.decode(prompt), "<BOS><User>first<Assistant>\n\nearlier<EOS><User>why?<Assistant>"; got != want {
		t.Errorf("prompt %q, want %q", got, want)
	}
	if got, want := enc.decode(target), "<think>\nlet me think\n</think>\n\nbecause<EOS>"; got != want {
		t.Errorf("target %q, want %q", got, want)
	}
	// Truncation keeps the prompt and cuts the target; a prompt that
	// does not fit is ErrTooLong.
	s2, err := Encode(ex, r1Render, enc, len(prompt)+3)
	if err != nil || len(s2.Tokens) != len(prompt)+3 {
		t.Errorf("truncated: %d tokens, err %v; want %d", len(s2.Tokens), err, len(prompt)+3)
	}
	if _, err := Encode(ex, r1Render, enc, len(prompt)); err == nil {
		t.Error("prompt longer than max-seq: no error")
	}
}

func TestSplitDeterministic(t *testing.T) {
	var s []Sample
	for i := 0; i < 20; i++ {
		s = append(s, Sample{Source: string(rune('a' + i))})
	}
	tr1, v1 := Split(s, 0.2, 7)
	tr2, v2 := Split(s, 0.2, 7)
	_, v3 := Split(s, 0.2, 8)
	if len(v1) != 4 || len(tr1) != 16 {
		t.Fatalf("split %d/%d, want 16/4", len(tr1), len(v1))
	}
	key := func(x []Sample) string {
		var b strings.Builder
		for _, y := range x {
			b.WriteString(y.Source)
		}
		return b.String()
	}
	if key(v1) != key(v2) || key(tr1) != key(tr2) {
		t.Error("same seed gave a different split")
	}
	if key(v1) == key(v3) {
		t.Error("different seeds gave the same validation set")
	}
}

func TestDebianFAQPairs(t *testing.T) {
	path := shareddata.Path(t, "debian-faq", "pairs.json")
	exs, st, err := ReadFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 146 || len(exs) != 292 {
		t.Errorf("read %d rows into %d examples, want 146 rows, 292 examples (en + zh)", st.Rows, len(exs))
	}
	if !strings.HasSuffix(exs[0].Source, "pairs.json:2") {
		t.Errorf("first source %q, want pairs.json:2", exs[0].Source)
	}
}
