package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ragtune/llm"
	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/openai"
	"ragtune/server"
	"ragtune/tokenizer"
)

// tinyLocal loads the tiny preset with R1's byte-level vocabulary and chat
// template.
func tinyLocal(t *testing.T, parallel int) *llm.Local {
	t.Helper()
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := qwen2.Init(dir, cfg, 7, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tokenizer_config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tc map[string]any
	json.Unmarshal(b, &tc)
	if s, _ := tc["chat_template"].(string); s == "" {
		tc["chat_template"] = chat.R1Template
		if err := model.WriteJSON(path, tc); err != nil {
			t.Fatal(err)
		}
	}
	l, err := llm.LoadLocal(dir, llm.LoadOptions{LocalOptions: llm.LocalOptions{Parallel: parallel, ContextSize: 512}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serveLocal starts a ragtune server (package server, in process) over
// eng, as a second `ragtune serve` would be, and returns its URL.
func serveLocal(t *testing.T, eng llm.Engine, cfg server.Config) string {
	t.Helper()
	cfg.Engine, cfg.ModelName, cfg.NoGuard = eng, "tiny", true
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts.URL
}

// TestRemoteMatchesLocal: greedy generation through Remote → ragtune
// serve → Local gives exactly what Local gives directly, reasoning and
// answer apart, with and without stop strings and thinking.
func TestRemoteMatchesLocal(t *testing.T) {
	local := tinyLocal(t, 2)
	url := serveLocal(t, local, server.Config{Parallel: 2})
	remote, err := llm.NewRemote(llm.RemoteOptions{BaseURL: url + "/v1", Model: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	greedy := &llm.Sampling{Seed: 1}
	cases := []struct {
		name string
		req  llm.Request
	}{
		{"chat", llm.Request{Messages: []llm.Message{{Role: "user", Content: "你好，世界"}}, MaxTokens: 24, Sampling: greedy}},
		{"no thinking", llm.Request{Messages: []llm.Message{{Role: "user", Content: "hello"}}, MaxTokens: 16, Sampling: greedy, DisableThinking: true}},
		{"raw prompt", llm.Request{Prompt: "Once upon a time", MaxTokens: 16, Sampling: greedy}},
		{"prompt tokens", llm.Request{PromptTokens: []int{72, 105, 33}, MaxTokens: 8, Sampling: greedy}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := local.Generate(context.Background(), tc.req, nil)
			if err != nil {
				t.Fatal(err)
			}
			var streamed strings.Builder
			got, err := remote.Generate(context.Background(), tc.req, func(tok llm.Token) error {
				if tok.ID != -1 {
					t.Errorf("remote token id %d, want -1", tok.ID)
				}
				if !tok.Reasoning {
					streamed.WriteString(tok.Text)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != want.Text || got.Reasoning != want.Reasoning {
				t.Errorf("remote = (%q, %q), local = (%q, %q)", got.Reasoning, got.Text, want.Reasoning, want.Text)
			}
			if streamed.String() != got.Text {
				t.Errorf("streamed answer %q != result %q", streamed.String(), got.Text)
			}
			if got.CompletionTokens != want.CompletionTokens || got.PromptTokens != want.PromptTokens {
				t.Errorf("usage remote %d+%d, local %d+%d", got.PromptTokens, got.CompletionTokens, want.PromptTokens, want.CompletionTokens)
			}
			if got.FinishReason != want.FinishReason {
				t.Errorf("finish remote %s, local %s", got.FinishReason, want.FinishReason)
			}
		})
	}
}

// fakeSSE serves a scripted stream of chat deltas, as vLLM or Ollama
// would, with the reasoning inline or apart.
func fakeSSE(t *testing.T, deltas []string, finish string) (string, chan *http.Request) {
	t.Helper()
	reqs := make(chan *http.Request, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- r
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, d := range deltas {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n", d)
			f.Flush()
		}
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\n", finish)
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(ts.Close)
	return ts.URL, reqs
}

func TestRemoteReasoningForms(t *testing.T) {
	msgs := []llm.Message{{Role: "user", Content: "q"}}
	cases := []struct {
		name          string
		deltas        []string
		startInReason bool
		stop          []string
		reasoning     string
		text          string
		finish        llm.FinishReason
	}{
		{"reasoning_content (DeepSeek)", []string{`{"reasoning_content":"\nhmm "}`, `{"reasoning_content":"ok"}`, `{"content":"Answer."}`}, false, nil, "hmm ok", "Answer.", llm.FinishEOS},
		{"reasoning (vLLM)", []string{`{"reasoning":"think"}`, `{"content":"A"}`}, false, nil, "think", "A", llm.FinishEOS},
		{"inline think", []string{`{"content":"<thi"}`, `{"content":"nk>\nplan</th"}`, `{"content":"ink>\n\nDone"}`}, false, nil, "plan", "Done", llm.FinishEOS},
		{"opened by the template", []string{`{"content":"plan"}`, `{"content":"</think>\n\nDone"}`}, true, nil, "plan", "Done", llm.FinishEOS},
		{"stop string across deltas", []string{`{"content":"one two ST"}`, `{"content":"OP three"}`}, false, []string{"STOP"}, "", "one two ", llm.FinishStop},
		{"stop not matched in reasoning", []string{`{"reasoning_content":"STOP here"}`, `{"content":"fine"}`}, false, []string{"STOP"}, "STOP here", "fine", llm.FinishEOS},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, reqs := fakeSSE(t, tc.deltas, "stop")
			r, _ := llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "m", APIKey: "sk-x", StartInReasoning: tc.startInReason})
			res, err := r.Generate(context.Background(), llm.Request{Messages: msgs, Stop: tc.stop, MaxTokens: 9}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Reasoning != tc.reasoning || res.Text != tc.text || res.FinishReason != tc.finish {
				t.Errorf("got (%q, %q, %s), want (%q, %q, %s)", res.Reasoning, res.Text, res.FinishReason, tc.reasoning, tc.text, tc.finish)
			}
			req := <-reqs
			if got, want := req.Header.Get("Authorization"), "Bearer sk-x"; got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
			if req.URL.Path != "/v1/chat/completions" {
				t.Errorf("path %s", req.URL.Path)
			}
			if tc.stop == nil && (res.PromptTokens != 5 || res.CompletionTokens != 7) {
				t.Errorf("usage %d+%d, want 5+7", res.PromptTokens, res.CompletionTokens)
			}
		})
	}
}

func TestRemoteLengthAndErrors(t *testing.T) {
	url, _ := fakeSSE(t, []string{`{"content":"abc"}`}, "length")
	r, _ := llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "m"})
	res, err := r.Generate(context.Background(), llm.Request{Prompt: "x"}, nil)
	if err != nil || res.FinishReason != llm.FinishLength || res.Text != "abc" {
		t.Errorf("length: %+v, %v", res, err)
	}
	// ErrStop from the callback ends the stream as a normal stop.
	res, err = r.Generate(context.Background(), llm.Request{Prompt: "x"}, func(llm.Token) error { return llm.ErrStop })
	if err != nil || res.FinishReason != llm.FinishStop {
		t.Errorf("ErrStop: %+v, %v", res, err)
	}

	// A ragtune server refusing a prompt longer than its context.
	local := tinyLocal(t, 1)
	url = serveLocal(t, local, server.Config{})
	r, _ = llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "tiny"})
	_, err = r.Generate(context.Background(), llm.Request{Prompt: strings.Repeat("long ", 400)}, nil)
	if !errors.Is(err, llm.ErrContextLength) {
		t.Errorf("long prompt: %v, want ErrContextLength", err)
	}
	var re *llm.RemoteError
	if !errors.As(err, &re) || re.Status != 400 {
		t.Errorf("long prompt: %v, want a RemoteError with status 400", err)
	}
	// Wrong model name: a 404 with the server's message.
	r, _ = llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "other"})
	_, err = r.Generate(context.Background(), llm.Request{Prompt: "x"}, nil)
	if !errors.As(err, &re) || re.Status != 404 || !strings.Contains(re.Message, "does not exist") {
		t.Errorf("wrong model: %v", err)
	}
	if _, err := llm.NewRemote(llm.RemoteOptions{BaseURL: "localhost:8080"}); err == nil {
		t.Error("URL without scheme accepted")
	}
	// Nobody listening.
	r, _ = llm.NewRemote(llm.RemoteOptions{BaseURL: "http://127.0.0.1:1"})
	if _, err := r.Generate(context.Background(), llm.Request{Prompt: "x"}, nil); err == nil {
		t.Error("no server: no error")
	}
}

func TestRemoteCancel(t *testing.T) {
	local := tinyLocal(t, 1)
	// The server sees the disconnect a moment after the client: let the
	// next request wait for the slot rather than be refused.
	url := serveLocal(t, local, server.Config{MaxQueue: 1})
	r, _ := llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "tiny"})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	start := time.Now()
	res, err := r.Generate(ctx, llm.Request{Prompt: "a", MaxTokens: 400, Sampling: &llm.Sampling{Seed: 1}}, func(llm.Token) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || res == nil || res.FinishReason != llm.FinishCancelled {
		t.Fatalf("cancel: %+v, %v", res, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancel took %s", d)
	}
	// The server's slot is freed: a new request goes through.
	if _, err := r.Generate(context.Background(), llm.Request{Prompt: "b", MaxTokens: 2}, nil); err != nil {
		t.Errorf("after cancel: %v", err)
	}

	// The server sees the client leave: the stream's request context ends.
	seen := make(chan bool, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			seen <- true
		case <-time.After(10 * time.Second):
			seen <- false
		}
	}))
	defer ts.Close()
	r, _ = llm.NewRemote(llm.RemoteOptions{BaseURL: ts.URL})
	ctx, cancel = context.WithCancel(context.Background())
	_, err = r.Generate(ctx, llm.Request{Prompt: "a"}, func(llm.Token) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
	if !<-seen {
		t.Error("the server never saw the client go away")
	}
}

func TestRemoteEmbedAndModels(t *testing.T) {
	embed := func(_ context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, s := range texts {
			out[i] = []float32{float32(len(s)), float32(i)}
		}
		return out, nil
	}
	url := serveLocal(t, &llm.Remote{}, server.Config{Embed: embed, EmbedModel: "emb"})
	r, _ := llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "tiny"})
	vecs, err := openai.NewClient(url, "", nil).Embeddings(context.Background(), "emb", []string{"a", "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(vecs), "[[1 0] [3 1]]"; got != want {
		t.Errorf("vectors %s, want %s", got, want)
	}
	ids, err := r.Models(context.Background())
	if err != nil || strings.Join(ids, ",") != "tiny,emb" {
		t.Errorf("models %v, %v", ids, err)
	}
}

func TestRemoteThinkingUnclosed(t *testing.T) {
	url, _ := fakeSSE(t, []string{`{"reasoning_content":"still thinking"}`}, "length")
	r, _ := llm.NewRemote(llm.RemoteOptions{BaseURL: url, Model: "m"})
	res, err := r.Generate(context.Background(), llm.Request{Messages: []llm.Message{{Role: "user", Content: "q"}}, MaxTokens: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ThinkingUnclosed || res.Text != "" {
		t.Fatalf("got text %q, unclosed %v; want no answer and unclosed", res.Text, res.ThinkingUnclosed)
	}
	if got, want := res.NoAnswerReason(), "no answer: the model spent all 7 tokens thinking (</think> never came)"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}
