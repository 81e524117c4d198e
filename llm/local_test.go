package llm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func newFakeEngine(t *testing.T, m *fakeModel, opts LocalOptions) *Local {
	t.Helper()
	l, err := NewLocal(m, fakeTok{}, fakeTemplate{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// collect runs a generation and returns the result plus the streamed
// reasoning and answer, checking that each streamed piece is non-empty
// valid UTF-8 and that the stream agrees with the Result.
func collect(t *testing.T, e Engine, ctx context.Context, req Request) (*Result, error) {
	t.Helper()
	var reasoning, answer strings.Builder
	res, err := e.Generate(ctx, req, func(tk Token) error {
		if tk.Text == "" || !utf8.ValidString(tk.Text) {
			t.Errorf("streamed piece %q is empty or not UTF-8", tk.Text)
		}
		if tk.Reasoning {
			if answer.Len() > 0 {
				t.Errorf("reasoning %q streamed after the answer began", tk.Text)
			}
			reasoning.WriteString(tk.Text)
		} else {
			answer.WriteString(tk.Text)
		}
		return nil
	})
	if res != nil && (res.Text != answer.String() || res.Reasoning != reasoning.String()) {
		t.Errorf("stream (%q, %q) differs from result (%q, %q)", reasoning.String(), answer.String(), res.Reasoning, res.Text)
	}
	return res, err
}

func user(s string) []Message { return []Message{{Role: "user", Content: s}} }

func TestGenerateSeparatesReasoning(t *testing.T) {
	script := "<think>\nThe capital of France.\n</think>\n\nParis."
	m := &fakeModel{replies: [][]int{tokens(script)}}
	res, err := collect(t, newFakeEngine(t, m, LocalOptions{}), context.Background(), Request{Messages: user("capital?")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Reasoning, "The capital of France."; got != want {
		t.Errorf("reasoning = %q, want %q", got, want)
	}
	if got, want := res.Text, "Paris."; got != want {
		t.Errorf("answer = %q, want %q", got, want)
	}
	if res.FinishReason != FinishEOS {
		t.Errorf("finish = %q, want eos", res.FinishReason)
	}
	// Everything after the template's "<think>\n" is generated, plus EOS.
	if got, want := res.CompletionTokens, len(tokens(script))-2+1; got != want {
		t.Errorf("completion tokens = %d, want %d", got, want)
	}
	if got, want := res.PromptTokens, len(tokens("<bos><user>capital?<asst><think>\n")); got != want {
		t.Errorf("prompt tokens = %d, want %d", got, want)
	}
	if got := res.TokenIDs[len(res.TokenIDs)-1]; got != fkEOS {
		t.Errorf("last token = %d, want EOS", got)
	}
}

func TestGenerateFinishReasons(t *testing.T) {
	reply := tokens("<think>\nok</think>abcSTOPdef")
	tests := []struct {
		name       string
		req        Request
		opts       LocalOptions
		wantText   string
		wantFinish FinishReason
		wantTokens int
	}{
		{"eos", Request{}, LocalOptions{}, "abcSTOPdef", FinishEOS, len(reply) - 2 + 1},
		{"stop string across tokens", Request{Stop: []string{"STOP"}}, LocalOptions{}, "abc", FinishStop, len(tokens("ok</think>abcSTOP"))},
		{"earliest stop wins", Request{Stop: []string{"def", "c"}}, LocalOptions{}, "ab", FinishStop, len(tokens("ok</think>abc"))},
		{"stop string in reasoning ignored", Request{Stop: []string{"ok"}}, LocalOptions{}, "abcSTOPdef", FinishEOS, len(reply) - 2 + 1},
		{"max tokens", Request{MaxTokens: 4}, LocalOptions{}, "a", FinishLength, 4}, // o k </think> a
		// The prompt is 6 tokens; a 9-token context leaves room for 3.
		{"context full", Request{}, LocalOptions{ContextSize: 9}, "", FinishLength, 3},
		{"extra EOS id", Request{}, LocalOptions{EOS: []int{'S'}}, "abc", FinishEOS, len(tokens("ok</think>abcS"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeModel{replies: [][]int{reply}}
			tc.req.Messages = user("q")
			res, err := collect(t, newFakeEngine(t, m, tc.opts), context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tc.wantText || res.FinishReason != tc.wantFinish || res.CompletionTokens != tc.wantTokens {
				t.Errorf("got %q %s after %d tokens, want %q %s after %d",
					res.Text, res.FinishReason, res.CompletionTokens, tc.wantText, tc.wantFinish, tc.wantTokens)
			}
			if tc.name == "context full" && res.PromptTokens+res.CompletionTokens != 9 {
				t.Errorf("prompt %d + completion %d tokens, want the context's 9", res.PromptTokens, res.CompletionTokens)
			}
		})
	}
}

func TestGeneratePromptTooLong(t *testing.T) {
	l := newFakeEngine(t, &fakeModel{}, LocalOptions{ContextSize: 8})
	_, err := l.Generate(context.Background(), Request{Prompt: "0123456789"}, nil)
	if !errors.Is(err, ErrContextLength) {
		t.Fatalf("err = %v, want ErrContextLength", err)
	}
	// 10 bytes + BOS; one of the 8 context tokens is kept for the answer.
	if want := "prompt too long for the model's context: 11 tokens > max 7"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestNewLocalContextSize(t *testing.T) {
	if l := newFakeEngine(t, &fakeModel{maxCtx: 100}, LocalOptions{}); l.ContextSize() != 100 {
		t.Errorf("default context = %d, want the model's 100", l.ContextSize())
	}
	if l := newFakeEngine(t, &fakeModel{}, LocalOptions{}); l.ContextSize() != 4096 {
		t.Errorf("default context = %d, want 4096", l.ContextSize())
	}
	if _, err := NewLocal(&fakeModel{maxCtx: 100}, fakeTok{}, nil, LocalOptions{ContextSize: 200}); err == nil {
		t.Errorf("context 200 on a 100-token model: no error")
	}
}

func TestGenerateRequestErrors(t *testing.T) {
	l, err := NewLocal(&fakeModel{}, fakeTok{}, nil, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]Request{
		"empty":              {},
		"two inputs":         {Prompt: "a", PromptTokens: []int{1}},
		"no template":        {Messages: user("hi")},
		"token out of vocab": {PromptTokens: []int{fkVocab}},
		"bad sampling":       {Prompt: "a", Sampling: &Sampling{TopP: 2}},
		"negative max":       {Prompt: "a", MaxTokens: -1},
	}
	for name, req := range bad {
		if _, err := l.Generate(context.Background(), req, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDisableThinking(t *testing.T) {
	m := &fakeModel{replies: [][]int{tokens("<think>\n\n</think>\n\nParis.")}}
	l := newFakeEngine(t, m, LocalOptions{})
	req := Request{Messages: user("capital?"), DisableThinking: true}
	ids, err := l.Prompt(req)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids, tokens("<bos><user>capital?<asst><think>\n\n</think>\n\n"); !slices.Equal(got, want) {
		t.Errorf("prompt = %v\nwant     %v", got, want)
	}
	res, err := collect(t, l, context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Paris." || res.Reasoning != "" {
		t.Errorf("got answer %q reasoning %q, want %q and none", res.Text, res.Reasoning, "Paris.")
	}
}

func TestRawPrompt(t *testing.T) {
	m := &fakeModel{replies: [][]int{tokens("Hello<think>x")}}
	l := newFakeEngine(t, m, LocalOptions{})
	res, err := collect(t, l, context.Background(), Request{Prompt: "say hi<asst>"})
	if err != nil {
		t.Fatal(err)
	}
	// No template: BOS is added by the tokenizer, and a <think> after the
	// answer began is plain text.
	if res.PromptTokens != len("say hi")+2 || res.Text != "Hello<think>x" {
		t.Errorf("prompt tokens %d answer %q, want %d and %q", res.PromptTokens, res.Text, len("say hi")+2, "Hello<think>x")
	}
	// PromptTokens run as they are; a tail that opened <think> starts in the reasoning.
	m.replies = [][]int{tokens("<think>r</think>a")}
	res, err = collect(t, l, context.Background(), Request{PromptTokens: tokens("<asst><think>")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reasoning != "r" || res.Text != "a" {
		t.Errorf("from tokens: reasoning %q answer %q, want r and a", res.Reasoning, res.Text)
	}
}

func TestStreamingUTF8(t *testing.T) {
	// Byte tokens split every Chinese character over three tokens; 0xff
	// can never be UTF-8.
	reply := append(tokens("<think>\n</think>你好，世界"), 0xff, 'x', 0xe4, 0xbd)
	m := &fakeModel{replies: [][]int{reply}}
	res, err := collect(t, newFakeEngine(t, m, LocalOptions{}), context.Background(), Request{Messages: user("q")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Text, "你好，世界\uFFFDx\uFFFD"; got != want {
		t.Errorf("answer = %q, want %q", got, want)
	}
}

func TestCancellation(t *testing.T) {
	m := &fakeModel{replies: [][]int{tokens("<think>\n</think>" + strings.Repeat("a", 100))}}
	l := newFakeEngine(t, m, LocalOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res, err := l.Generate(ctx, Request{Messages: user("q")}, func(tk Token) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || res == nil || res.FinishReason != FinishCancelled {
		t.Fatalf("got %+v, %v; want a cancelled result and context.Canceled", res, err)
	}
	if res.Text != "aaa" {
		t.Errorf("partial answer = %q, want %q", res.Text, "aaa")
	}

	// Cancelled during prefill: the chunk loop notices between Forward calls.
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	m.forward = func(*fakeState, []int) error {
		if calls++; calls == 2 {
			cancel()
		}
		return nil
	}
	l = newFakeEngine(t, m, LocalOptions{PrefillChunk: 2})
	res, err = l.Generate(ctx, Request{Prompt: strings.Repeat("p", 50)}, nil)
	if !errors.Is(err, context.Canceled) || res.FinishReason != FinishCancelled || calls != 2 {
		t.Errorf("prefill: %d forward calls, finish %q, err %v; want 2, cancelled, context.Canceled", calls, res.FinishReason, err)
	}
	// The slot is usable afterwards and its cache is consistent.
	m.forward = nil
	if _, err := collect(t, l, context.Background(), Request{Messages: user("q")}); err != nil {
		t.Errorf("after a cancelled prefill: %v", err)
	}
}

func TestCallbackStopsGeneration(t *testing.T) {
	m := &fakeModel{replies: [][]int{tokens("<think>\n</think>abcdef")}}
	l := newFakeEngine(t, m, LocalOptions{})
	res, err := l.Generate(context.Background(), Request{Messages: user("q")}, func(tk Token) error {
		if tk.Text == "c" {
			return ErrStop
		}
		return nil
	})
	if err != nil || res.FinishReason != FinishStop || res.Text != "abc" {
		t.Errorf("ErrStop: got %q %s %v, want abc stop nil", res.Text, res.FinishReason, err)
	}
	boom := errors.New("client went away")
	res, err = l.Generate(context.Background(), Request{Messages: user("q")}, func(Token) error { return boom })
	if !errors.Is(err, boom) || res.FinishReason != FinishError {
		t.Errorf("callback error: got %s %v, want error and %v", res.FinishReason, err, boom)
	}
}

func TestModelErrorIsReported(t *testing.T) {
	m := &fakeModel{replies: [][]int{tokens("<think>\n</think>abc")}}
	fail := errors.New("weights went missing")
	m.forward = func(st *fakeState, toks []int) error {
		if len(st.seq) > 7 { // fails mid-answer (the prompt is 6 tokens)
			return fail
		}
		return nil
	}
	l := newFakeEngine(t, m, LocalOptions{})
	res, err := l.Generate(context.Background(), Request{Messages: user("q")}, nil)
	if !errors.Is(err, fail) || res.FinishReason != FinishError {
		t.Fatalf("got %s %v, want error wrapping %v", res.FinishReason, err, fail)
	}
	m.forward = nil
	if res, err := collect(t, l, context.Background(), Request{Messages: user("q")}); err != nil || res.Text != "abc" {
		t.Errorf("after a model error the engine gave %q, %v", res.Text, err)
	}
}

// TestPrefixReuse runs a three-turn chat with and without KV-cache reuse:
// the answers must be identical, and with reuse each turn after the first
// runs only the tokens after the previous prompt. As with R1's template,
// the history holds the answer without its reasoning, so the shared part
// ends just before the previous generation prompt's "<think>\n".
func TestPrefixReuse(t *testing.T) {
	replies := [][]int{
		tokens("<think>\nhmm</think>\n\nfirst"),
		tokens("<think>\nhmm</think>\n\nsecond"),
		tokens("<think>\nhmm</think>\n\nthird"),
	}
	type turn struct {
		text          string
		prompt, ran   int
		cached, decod int
	}
	chat := func(reuse bool) []turn {
		m := &fakeModel{replies: replies}
		l := newFakeEngine(t, m, LocalOptions{NoPrefixReuse: !reuse})
		var msgs []Message
		var turns []turn
		for _, q := range []string{"one", "two", "three"} {
			msgs = append(msgs, Message{Role: "user", Content: q})
			before := m.ran
			res, err := collect(t, l, context.Background(), Request{Messages: msgs})
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, Message{Role: "assistant", Content: res.Text})
			turns = append(turns, turn{res.Text, res.PromptTokens, int(m.ran - before), res.CachedTokens, res.CompletionTokens})
		}
		return turns
	}
	with, without := chat(true), chat(false)
	for i := range with {
		w, wo := with[i], without[i]
		if w.text != wo.text || w.text != []string{"first", "second", "third"}[i] {
			t.Errorf("turn %d: answer %q with reuse, %q without", i, w.text, wo.text)
		}
		if wo.cached != 0 || wo.ran != wo.prompt+wo.decod-1 {
			t.Errorf("turn %d without reuse: cached %d, ran %d tokens, want 0 and %d", i, wo.cached, wo.ran, wo.prompt+wo.decod-1)
		}
		if i > 0 {
			prev := with[i-1]
			if w.cached != prev.prompt-2 {
				t.Errorf("turn %d: %d cached tokens, want the previous prompt's %d less 2", i, w.cached, prev.prompt)
			}
			if w.ran != w.prompt-w.cached+w.decod-1 {
				t.Errorf("turn %d: ran %d tokens, want %d", i, w.ran, w.prompt-w.cached+w.decod-1)
			}
		}
	}
}

func TestSamplingThroughEngine(t *testing.T) {
	m := &fakeModel{} // random bigram logits
	l := newFakeEngine(t, m, LocalOptions{Sampling: &Sampling{Temperature: 1, Seed: 5}})
	run := func(req Request) []int {
		req.Prompt, req.MaxTokens = "seed", 40
		res, err := l.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.TokenIDs
	}
	a, b := run(Request{}), run(Request{})
	if !slices.Equal(a, b) {
		t.Errorf("same default seed, different tokens:\n%v\n%v", a, b)
	}
	if c := run(Request{Sampling: &Sampling{Temperature: 1, Seed: 6}}); slices.Equal(a, c) {
		t.Errorf("seeds 5 and 6 gave the same 40 tokens")
	}
	g1, g2 := run(Request{Sampling: &Sampling{}}), run(Request{Sampling: &Sampling{Seed: 99}})
	if !slices.Equal(g1, g2) {
		t.Errorf("greedy depends on the seed")
	}
}

func TestPaddedVocabNeverSampled(t *testing.T) {
	// The model's logits are longer than the tokenizer's vocabulary and
	// the padding id has the best logit; it must not be picked.
	m := &fakeModel{replies: [][]int{tokens("<think>\n</think>ok")}, vocab: fkVocab + 5, padID: fkVocab + 2}
	res, err := collect(t, newFakeEngine(t, m, LocalOptions{}), context.Background(), Request{Messages: user("q")})
	if err != nil || res.Text != "ok" {
		t.Errorf("got %q, %v; want ok", res.Text, err)
	}
}

// TestConcurrentGenerate runs many generations at once over two slots;
// each must equal its sequential result.
func TestConcurrentGenerate(t *testing.T) {
	m := &fakeModel{}
	l := newFakeEngine(t, m, LocalOptions{Parallel: 2, Sampling: &Sampling{Temperature: 0.8, TopP: 0.9, Seed: 1}})
	const N = 12
	req := func(i int) Request { return Request{Prompt: fmt.Sprintf("prompt %d", i%5), MaxTokens: 20} }
	want := make([][]int, N)
	for i := range want {
		res, err := l.Generate(context.Background(), req(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.TokenIDs
	}
	var wg sync.WaitGroup
	got := make([][]int, N)
	for i := range N {
		wg.Go(func() {
			res, err := l.Generate(context.Background(), req(i), nil)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = res.TokenIDs
		})
	}
	wg.Wait()
	for i := range N {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("request %d: concurrent tokens %v, sequential %v", i, got[i], want[i])
		}
	}
}

func TestWaitingForSlotHonoursContext(t *testing.T) {
	m := &fakeModel{}
	release, started := make(chan struct{}), make(chan struct{})
	var once sync.Once
	m.forward = func(*fakeState, []int) error {
		once.Do(func() { close(started); <-release })
		return nil
	}
	l := newFakeEngine(t, m, LocalOptions{Parallel: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Generate(context.Background(), Request{Prompt: "x", MaxTokens: 2}, nil)
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := l.Generate(ctx, Request{Prompt: "y"}, nil)
	if !errors.Is(err, context.Canceled) || res.FinishReason != FinishCancelled {
		t.Errorf("waiting request: %+v, %v; want cancelled", res, err)
	}
	close(release)
	<-done
}

func TestGenerateThinkingUnclosed(t *testing.T) {
	reply := tokens("<think>\nok</think>abc")
	tests := []struct {
		name     string
		req      Request
		unclosed bool
		reason   string
	}{
		{"max tokens inside the reasoning", Request{MaxTokens: 2}, true, "no answer: the model spent all 2 tokens thinking (</think> never came)"},
		{"reasoning closed, answer cut", Request{MaxTokens: 4}, false, ""},
		{"finished", Request{}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeModel{replies: [][]int{reply}}
			tc.req.Messages = user("q")
			res, err := collect(t, newFakeEngine(t, m, LocalOptions{}), context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.ThinkingUnclosed != tc.unclosed || res.NoAnswerReason() != tc.reason {
				t.Errorf("unclosed %v, reason %q; want %v, %q", res.ThinkingUnclosed, res.NoAnswerReason(), tc.unclosed, tc.reason)
			}
		})
	}
}
