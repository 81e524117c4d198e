package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/llm/chat"
)

func TestCalibrationText(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tag := func(msgs []Message, gen bool) (string, error) {
		var b strings.Builder
		for _, m := range msgs {
			b.WriteString("<" + m.Role + ">" + m.Content)
		}
		return b.String(), nil
	}
	convs := write("sft.jsonl", `{"text": "a document"}
{"instruction": "Q1", "output": "A1"}
`)
	msgs := []Message{{Role: "user", Content: "Q1"}, {Role: "assistant", Content: "A1"}}

	tests := []struct {
		name         string
		file         string
		render       Renderer
		want         string
		wantRendered bool
	}{
		{"text keeps all but one final newline", write("a.txt", "line 1\n\nline 2\n\n"), tag, "line 1\n\nline 2\n", false},
		{"markdown", write("b.md", "# 标题\n正文"), nil, "# 标题\n正文", false},
		{"rows rendered by the template", convs, tag, "a document\n\n<user>Q1<assistant>A1\n\n", true},
		{"rows without a template", convs, nil, "a document\n\n" + chat.Plain(msgs, false) + "\n\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, rendered, err := CalibrationText(tc.file, tc.render)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || rendered != tc.wantRendered {
				t.Errorf("got %q (rendered %v), want %q (%v)", got, rendered, tc.want, tc.wantRendered)
			}
		})
	}

	boom := errors.New("boom")
	_, _, err := CalibrationText(convs, func([]Message, bool) (string, error) { return "", boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "sft.jsonl:2") {
		t.Errorf("render failure: %v; want it wrapped with the row", err)
	}
	if _, _, err := CalibrationText(filepath.Join(dir, "missing.txt"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
