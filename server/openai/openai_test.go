package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"ragtune/llm"
)

func TestContentForms(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`"hello"`, "hello", false},
		{`null`, "", false},
		{`[{"type":"text","text":"a"},{"type":"text","text":"b"}]`, "ab", false},
		{`[{"type":"image_url","image_url":{"url":"x"}}]`, "", true},
		{`[{"type":"text"}]`, "", true},
		{`42`, "", true},
		{`{"text":"a"}`, "", true},
	}
	for _, tc := range cases {
		var c Content
		err := json.Unmarshal([]byte(tc.in), &c)
		if (err != nil) != tc.wantErr || (err == nil && string(c) != tc.want) {
			t.Errorf("Content(%s) = %q, %v; want %q, error %v", tc.in, c, err, tc.want, tc.wantErr)
		}
	}
}

func TestStringListAndPrompt(t *testing.T) {
	var l StringList
	for in, want := range map[string]string{`"a"`: "[a]", `["a","b"]`: "[a b]", `null`: "[]"} {
		l = nil
		if err := json.Unmarshal([]byte(in), &l); err != nil || fmt.Sprint([]string(l)) != want {
			t.Errorf("StringList(%s) = %v, %v; want %s", in, l, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`[1]`), &l); err == nil {
		t.Error("StringList accepted numbers")
	}
	prompts := []struct {
		in     string
		text   string
		tokens string
		bad    bool
	}{
		{`"once"`, "once", "[]", false},
		{`["once"]`, "once", "[]", false},
		{`[1,2,3]`, "", "[1 2 3]", false},
		{`["a","b"]`, "", "", true},
		{`[]`, "", "", true},
		{`[1,"a"]`, "", "", true},
		{`{"a":1}`, "", "", true},
	}
	for _, tc := range prompts {
		var p Prompt
		err := json.Unmarshal([]byte(tc.in), &p)
		if tc.bad != (err != nil) {
			t.Errorf("Prompt(%s): error %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if err == nil && (p.Text != tc.text || fmt.Sprint(p.Tokens) != tc.tokens) {
			t.Errorf("Prompt(%s) = %+v, want %q %s", tc.in, p, tc.text, tc.tokens)
		}
	}
}

func TestChatToLLM(t *testing.T) {
	defaults := llm.Sampling{Temperature: 0.6, TopP: 0.95, Seed: -1}
	var r ChatRequest
	body := `{"model":"m","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":"hi"}],
		"max_completion_tokens":7,"temperature":0,"top_k":-1,"stop":"END","seed":9,
		"chat_template_kwargs":{"enable_thinking":false},"logit_bias":{"1":2}}`
	if err := Decode([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	req, err := r.ToLLM(defaults)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.Messages[0].Role, "system"; got != want {
		t.Errorf("developer role → %q, want %q", got, want)
	}
	if req.MaxTokens != 7 || fmt.Sprint(req.Stop) != "[END]" || !req.DisableThinking {
		t.Errorf("request %+v", req)
	}
	if got, want := *req.Sampling, (llm.Sampling{Temperature: 0, TopP: 0.95, Seed: 9}); got != want {
		t.Errorf("sampling %+v, want %+v (unset top_p from defaults, top_k -1 off)", got, want)
	}

	bad := []struct{ body, param string }{
		{`{"messages":[]}`, "messages"},
		{`{"messages":[{"role":"tool","content":"x"}]}`, "messages[0].role"},
		{`{"messages":[{"role":"user","content":"x"}],"n":3}`, "n"},
		{`{"messages":[{"role":"user","content":"x"}],"temperature":-1}`, "temperature"},
		{`{"messages":[{"role":"user","content":"x"}],"top_p":2}`, "top_p"},
		{`{"messages":[{"role":"user","content":"x"}],"presence_penalty":3}`, "presence_penalty"},
		{`{"messages":[{"role":"user","content":"x"}],"max_tokens":-4}`, "max_tokens"},
		{`{"messages":[{"role":"user","content":"x"}],"top_k":-2}`, "top_k"},
	}
	for _, tc := range bad {
		var r ChatRequest
		if err := Decode([]byte(tc.body), &r); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		_, err := r.ToLLM(defaults)
		var re *RequestError
		if !errors.As(err, &re) || re.Param != tc.param {
			t.Errorf("%s: error %v, want a RequestError on %s", tc.body, err, tc.param)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, body := range []string{"\xff{}", `{"a":1} {}`, `{`, `{"messages":"x"}`} {
		var r ChatRequest
		err := Decode([]byte(body), &r)
		var re *RequestError
		if !errors.As(err, &re) {
			t.Errorf("Decode(%q) = %v, want a RequestError", body, err)
		}
	}
	var r ChatRequest
	err := Decode([]byte(`{"messages":[{"role":"user","content":"a"}],"temperature":"hot"}`), &r)
	var re *RequestError
	if !errors.As(err, &re) || re.Param != "temperature" {
		t.Errorf("wrong type: %v, want param temperature", err)
	}
}

func TestFinishReasons(t *testing.T) {
	for in, want := range map[llm.FinishReason]string{llm.FinishEOS: "stop", llm.FinishStop: "stop", llm.FinishLength: "length"} {
		if got := FinishReasonFrom(in); got != want {
			t.Errorf("FinishReasonFrom(%s) = %s, want %s", in, got, want)
		}
	}
	if got := FinishReasonToLLM("length"); got != llm.FinishLength {
		t.Errorf("length → %s", got)
	}
	if got := FinishReasonToLLM("stop"); got != llm.FinishEOS {
		t.Errorf("stop → %s", got)
	}
}

func TestEmbeddingVectors(t *testing.T) {
	r := EmbeddingResponse{Data: []Embedding{{Index: 1, Embedding: []float32{2}}, {Index: 0, Embedding: []float32{1}}}}
	v, err := r.EmbeddingVectors(2)
	if err != nil || fmt.Sprint(v) != "[[1] [2]]" {
		t.Errorf("vectors %v, %v", v, err)
	}
	if _, err := r.EmbeddingVectors(3); err == nil {
		t.Error("missing vector not reported")
	}
}
