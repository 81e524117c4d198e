package server

import (
	"errors"
	"fmt"
	"testing"

	"ragtune/llm"
	"ragtune/openai"
)

func TestChatToLLM(t *testing.T) {
	defaults := llm.Sampling{Temperature: 0.6, TopP: 0.95, Seed: -1}
	var r openai.ChatRequest
	body := `{"model":"m","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":"hi"}],
		"max_completion_tokens":7,"temperature":0,"top_k":-1,"stop":"END","seed":9,
		"chat_template_kwargs":{"enable_thinking":false},"logit_bias":{"1":2}}`
	if err := openai.Decode([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	req, err := chatToLLM(&r, defaults)
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
		var r openai.ChatRequest
		if err := openai.Decode([]byte(tc.body), &r); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		_, err := chatToLLM(&r, defaults)
		var re *openai.RequestError
		if !errors.As(err, &re) || re.Param != tc.param {
			t.Errorf("%s: error %v, want a RequestError on %s", tc.body, err, tc.param)
		}
	}
}

func TestFinishReasons(t *testing.T) {
	for in, want := range map[llm.FinishReason]string{llm.FinishEOS: "stop", llm.FinishStop: "stop", llm.FinishLength: "length"} {
		if got := finishReasonFrom(in); got != want {
			t.Errorf("finishReasonFrom(%s) = %s, want %s", in, got, want)
		}
	}
}
