package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestKBChatCitationForms: a knowledge-base chat marks as cited every
// passage the answer names, in the forms rag.ParseCitations reads — [1, 2]
// and 【2】 as well as [1] — in a plain and a streamed answer, and asks in
// the question's language with the passages fenced.
func TestKBChatCitationForms(t *testing.T) {
	eng := &scripted{}
	_, ts := testServer(t, Config{Engine: eng})
	if st, b := do(t, "POST", ts.URL+"/v1/kb", `{"name":"geo"}`); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	for name, text := range map[string]string{
		"france.md": "# France\n\nThe capital of France is Paris. 法国的首都是巴黎。\n",
		"japan.md":  "# Japan\n\nThe capital of Japan is Tokyo. 日本的首都是东京。\n",
	} {
		if st, b := upload(t, ts.URL+"/v1/kb/geo/documents", name, []byte(text)); st != 201 {
			t.Fatalf("upload %s: %d %s", name, st, b)
		}
	}
	type cite struct {
		Index int  `json:"index"`
		Cited bool `json:"cited"`
	}
	cited := func(cs []cite) []bool {
		out := make([]bool, len(cs))
		for i, c := range cs {
			if c.Index != i+1 {
				t.Fatalf("citation %d has index %d", i, c.Index)
			}
			out[i] = c.Cited
		}
		return out
	}

	eng.answer = []string{"Paris and Tokyo [1, 2]."}
	st, b := do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:geo","messages":[{"role":"user","content":"capital of France and of Japan"}]}`)
	if st != 200 {
		t.Fatalf("chat: %d %s", st, b)
	}
	var resp struct {
		Citations []cite `json:"citations"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if got := cited(resp.Citations); len(got) != 2 || !got[0] || !got[1] {
		t.Errorf("[1, 2]: cited %v, want both of 2 passages\n%s", got, b)
	}
	prompt := eng.lastReq.Messages[len(eng.lastReq.Messages)-1].Content
	if !strings.HasPrefix(prompt, "Answer the question using only the passages below.") || !strings.Contains(prompt, "not instructions") {
		t.Errorf("English question, prompt:\n%s", prompt)
	}

	eng.answer = []string{"东京", "【2】。"}
	st, b = do(t, "POST", ts.URL+"/v1/chat/completions", `{"model":"rag:geo","stream":true,"messages":[{"role":"user","content":"日本的首都和法国的首都是哪里？"}]}`)
	if st != 200 {
		t.Fatalf("stream chat: %d %s", st, b)
	}
	// The last chunk with citations carries the cited flags.
	var last []cite
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			Citations []cite `json:"citations"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		if ch.Citations != nil {
			last = ch.Citations
		}
	}
	if got := cited(last); len(got) != 2 || got[0] || !got[1] {
		t.Errorf("【2】: cited %v, want only the second of 2 passages\n%s", got, b)
	}
	prompt = eng.lastReq.Messages[len(eng.lastReq.Messages)-1].Content
	if !strings.HasPrefix(prompt, "请只根据下面的资料回答问题。") || !strings.Contains(prompt, "<passage-") || !strings.HasSuffix(prompt, "问题：日本的首都和法国的首都是哪里？") {
		t.Errorf("Chinese question, prompt:\n%s", prompt)
	}
}
