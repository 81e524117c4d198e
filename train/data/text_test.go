package data

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// byteEnc encodes each byte as its value and has EOS 300.
type byteEnc struct{}

func (byteEnc) Encode(text string, _ bool) []int {
	ids := make([]int, len(text))
	for i := range len(text) {
		ids[i] = int(text[i])
	}
	return ids
}
func (byteEnc) EOS() int { return 300 }

func TestEncodeTextPacksWithEOS(t *testing.T) {
	exs := []Example{{Text: "abc", Source: "a"}, {Text: "de", Source: "b"}}
	tests := []struct {
		maxSeq int
		want   [][]int32
		srcs   []string
	}{
		{4, [][]int32{{'a', 'b', 'c', 300}, {'d', 'e', 300}}, []string{"a", "b"}},
		{3, [][]int32{{'a', 'b', 'c'}, {300, 'd', 'e'}}, []string{"a", "a"}},
		{7, [][]int32{{'a', 'b', 'c', 300, 'd', 'e', 300}}, []string{"a"}},
		// a lone trailing token predicts nothing and is dropped
		{6, [][]int32{{'a', 'b', 'c', 300, 'd', 'e'}}, []string{"a"}},
	}
	for _, tc := range tests {
		got, err := EncodeText(exs, byteEnc{}, tc.maxSeq)
		if err != nil {
			t.Fatalf("maxSeq %d: %v", tc.maxSeq, err)
		}
		var toks [][]int32
		var srcs []string
		for _, s := range got {
			if !reflect.DeepEqual(s.Tokens, s.Labels) {
				t.Errorf("maxSeq %d: labels %v differ from tokens %v (loss must cover every token)", tc.maxSeq, s.Labels, s.Tokens)
			}
			toks = append(toks, s.Tokens)
			srcs = append(srcs, s.Source)
		}
		if !reflect.DeepEqual(toks, tc.want) || !reflect.DeepEqual(srcs, tc.srcs) {
			t.Errorf("maxSeq %d: got %v from %v, want %v from %v", tc.maxSeq, toks, srcs, tc.want, tc.srcs)
		}
	}
}

func TestReadTextFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		path  string
		texts []string
	}{
		{write("a.md", "# 标题\n正文。\n"), []string{"# 标题\n正文。\n"}},
		{write("b.txt", "\ufeffplain"), []string{"plain"}},
		{write("c.jsonl", `{"text": "one", "id": 1}`+"\n\n"+`{"text": "two"}`+"\n"), []string{"one", "two"}},
		{write("d.json", `[{"text": "x"}, {"text": "y"}]`), []string{"x", "y"}},
	}
	for _, tc := range tests {
		exs, _, err := ReadFile(tc.path, false)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		var got []string
		for _, ex := range exs {
			got = append(got, ex.Text)
		}
		if !reflect.DeepEqual(got, tc.texts) {
			t.Errorf("%s: got %q, want %q", tc.path, got, tc.texts)
		}
		samples, tooLong, err := EncodeAll(exs, nil, byteEnc{}, 8)
		if err != nil || tooLong != 0 || len(samples) == 0 {
			t.Errorf("%s: EncodeAll = %d samples, %d too long, %v", tc.path, len(samples), tooLong, err)
		}
	}
	for _, bad := range []string{write("e.txt", " \n"), write("f.jsonl", `{"text": ""}`)} {
		if _, _, err := ReadFile(bad, false); err == nil {
			t.Errorf("%s: want an error for an empty document", bad)
		}
	}
	mixed := []Example{{Text: "doc"}, {Messages: []Message{{Role: "assistant", Content: "x"}}, Source: "m:2"}}
	if _, _, err := EncodeAll(mixed, nil, byteEnc{}, 8); err == nil {
		t.Error("want an error for chat examples mixed with text")
	}
}
