package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
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

func TestEmbeddingVectors(t *testing.T) {
	r := EmbeddingResponse{Data: []Embedding{{Index: 1, Embedding: Vector{Floats: []float32{2}}}, {Index: 0, Embedding: Vector{Floats: []float32{1}}}}}
	v, err := r.EmbeddingVectors(2)
	if err != nil || fmt.Sprint(v) != "[[1] [2]]" {
		t.Errorf("vectors %v, %v", v, err)
	}
	if _, err := r.EmbeddingVectors(3); err == nil {
		t.Error("missing vector not reported")
	}
}
