package llm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ragtune/llm/chat"
	"ragtune/model"
	"ragtune/model/qwen2"
	"ragtune/tokenizer"
	"ragtune/weights"
)

// tinyModelDir writes the tiny preset with R1's byte-level vocabulary and
// chat template: a real model directory for end-to-end tests.
func tinyModelDir(t testing.TB) string {
	t.Helper()
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := qwen2.Init(dir, cfg, 7, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	ensureChatTemplate(t, dir)
	return dir
}

// ensureChatTemplate gives a model directory ragtune's R1 chat template
// when its tokenizer_config.json has none.
func ensureChatTemplate(t testing.TB, dir string) {
	t.Helper()
	path := filepath.Join(dir, "tokenizer_config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if s, _ := cfg["chat_template"].(string); s != "" {
		return
	}
	cfg["chat_template"] = chat.R1Template
	if err := model.WriteJSON(path, cfg); err != nil {
		t.Fatal(err)
	}
}

func loadTiny(t *testing.T, opts LocalOptions) *Local {
	t.Helper()
	l, err := LoadLocal(tinyModelDir(t), LoadOptions{LocalOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLoadLocalDefaults(t *testing.T) {
	l := loadTiny(t, LocalOptions{})
	// model init writes R1's generation_config.json.
	if got, want := l.DefaultSampling(), (Sampling{Temperature: 0.6, TopP: 0.95, Seed: -1}); got != want {
		t.Errorf("default sampling = %+v, want %+v", got, want)
	}
	if !contains(l.eos, 256) {
		t.Errorf("EOS ids %v lack the R1 vocabulary's 256", l.eos)
	}
	if got, want := l.ContextSize(), 2048; got != want { // the tiny preset's max_position_embeddings
		t.Errorf("context = %d, want %d", got, want)
	}
	// eval scores perplexities with the network and renders with the
	// concrete template, so LoadLocal must hand both out.
	if l.Qwen2() == nil {
		t.Error("Qwen2() = nil for an engine LoadLocal built")
	}
	if tmpl, ok := l.Template().(*chat.Template); !ok || tmpl == nil {
		t.Errorf("Template() = %T, want the directory's *chat.Template", l.Template())
	}
}

// TestTinyModelGreedy runs the real forward pass end to end: greedy
// decoding is deterministic, every streamed piece is valid UTF-8 (the
// byte-level vocabulary splits Chinese characters, and a random model
// emits arbitrary bytes), and the stream equals the result.
func TestTinyModelGreedy(t *testing.T) {
	l := loadTiny(t, LocalOptions{})
	req := Request{Prompt: "你好，世界！Hello", MaxTokens: 48, Sampling: &Sampling{}}
	a, err := collect(t, l, context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := collect(t, l, context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.TokenIDs, b.TokenIDs) || a.Text != b.Text {
		t.Errorf("greedy runs differ:\n%v\n%v", a.TokenIDs, b.TokenIDs)
	}
	if a.CompletionTokens == 0 || a.PromptTokens != len([]byte("你好，世界！Hello"))+1 {
		t.Errorf("prompt %d tokens, output %d; want BOS + one per byte, and some output", a.PromptTokens, a.CompletionTokens)
	}
	// The second run reuses the whole prompt but its last token.
	if b.CachedTokens != b.PromptTokens-1 {
		t.Errorf("second run cached %d of %d prompt tokens", b.CachedTokens, b.PromptTokens)
	}
	for _, id := range a.TokenIDs {
		if id >= 263 {
			t.Errorf("sampled id %d, which is padding past the 263-token vocabulary", id)
		}
	}
}

// TestTinyModelPrefixReuse extends a prompt and checks that the reused KV
// cache gives the same tokens as a fresh prefill of the whole prompt.
func TestTinyModelPrefixReuse(t *testing.T) {
	dir := tinyModelDir(t)
	reuse, err := LoadLocal(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer reuse.Close()
	fresh, err := LoadLocal(dir, LoadOptions{LocalOptions: LocalOptions{NoPrefixReuse: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	first := Request{Prompt: "The quick brown fox", MaxTokens: 8, Sampling: &Sampling{}}
	if _, err := reuse.Generate(context.Background(), first, nil); err != nil {
		t.Fatal(err)
	}
	second := Request{Prompt: "The quick brown fox jumps over the lazy dog", MaxTokens: 24, Sampling: &Sampling{}}
	got, err := reuse.Generate(context.Background(), second, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fresh.Generate(context.Background(), second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.CachedTokens < len("The quick brown fox") {
		t.Errorf("cached %d tokens, want at least the first prompt's %d", got.CachedTokens, len("The quick brown fox"))
	}
	if !slices.Equal(got.TokenIDs, want.TokenIDs) {
		t.Errorf("with reuse %v\nfresh      %v", got.TokenIDs, want.TokenIDs)
	}
}

func TestTinyModelContextLimit(t *testing.T) {
	l := loadTiny(t, LocalOptions{ContextSize: 16})
	_, err := l.Generate(context.Background(), Request{Prompt: "this prompt has more than sixteen bytes"}, nil)
	var cle *ContextLengthError
	if !errors.As(err, &cle) || cle.Max != 15 {
		t.Fatalf("err = %v, want a ContextLengthError with max 15", err)
	}
	res, err := l.Generate(context.Background(), Request{Prompt: "0123456789", Sampling: &Sampling{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FinishReason != FinishLength && res.FinishReason != FinishEOS || res.PromptTokens+res.CompletionTokens > 16 {
		t.Errorf("%d + %d tokens, finish %s; want at most 16 in all", res.PromptTokens, res.CompletionTokens, res.FinishReason)
	}
}

func TestLoadLocalErrors(t *testing.T) {
	if _, err := LoadLocal(t.TempDir(), LoadOptions{}); err == nil {
		t.Errorf("empty directory: no error")
	}
	if _, err := LoadLocal("/does/not/exist", LoadOptions{}); err == nil {
		t.Errorf("missing path: no error")
	}
}

// TestTinyModelChat runs chat requests through the R1 template on the real
// model: the prompt opens the reasoning, and DisableThinking prefills the
// empty block.
func TestTinyModelChat(t *testing.T) {
	l := loadTiny(t, LocalOptions{})
	msgs := []Message{{Role: "user", Content: "什么是灾难性遗忘？"}}
	ids, err := l.Prompt(Request{Messages: msgs})
	if err != nil {
		t.Fatal(err)
	}
	tok := l.Tokenizer()
	text := func(ids []int) string {
		var b strings.Builder
		for _, id := range ids {
			b.Write(tok.TokenBytes(id))
		}
		return b.String()
	}
	if got, want := text(ids), "<｜begin▁of▁sentence｜><｜User｜>什么是灾难性遗忘？<｜Assistant｜><think>\n"; got != want {
		t.Errorf("prompt = %q, want %q", got, want)
	}
	ids, err = l.Prompt(Request{Messages: msgs, DisableThinking: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := text(ids); !strings.HasSuffix(got, "<｜Assistant｜><think>\n\n</think>\n\n") {
		t.Errorf("prompt without thinking ends %q", got[max(0, len(got)-40):])
	}
	req := Request{Messages: msgs, MaxTokens: 32, Sampling: &Sampling{Temperature: 0.6, TopP: 0.95, Seed: 4}}
	a, err := collect(t, l, context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := collect(t, l, context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.TokenIDs, b.TokenIDs) {
		t.Errorf("seeded chat runs differ")
	}
	// A random model rarely closes its reasoning, so 32 tokens of output
	// are reasoning unless it produced </think> or EOS.
	if !slices.Contains(a.TokenIDs, 262) && a.Text != "" {
		t.Errorf("answer %q without a </think> token", a.Text)
	}
}

// TestTinyModelGGUF exports the tiny model to GGUF (weights, vocabulary
// and chat template in one file) and checks that it generates exactly as
// the HF directory does.
func TestTinyModelGGUF(t *testing.T) {
	dir := tinyModelDir(t)
	src, cfg, err := qwen2.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	err = qwen2.WriteGGUF(path, src, cfg, qwen2.GGUFOptions{Type: qwen2.KeepType, Tokenizer: tok.GGUFMetadata()})
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := LoadLocal(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fromDir.Close()
	fromFile, err := LoadLocal(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fromFile.Close()
	req := Request{Messages: []Message{{Role: "user", Content: "hello 你好"}}, MaxTokens: 24, Sampling: &Sampling{}}
	p1, err1 := fromDir.Prompt(req)
	p2, err2 := fromFile.Prompt(req)
	if err1 != nil || err2 != nil || !slices.Equal(p1, p2) {
		t.Fatalf("prompts differ: dir %v (%v)\ngguf %v (%v)", p1, err1, p2, err2)
	}
	a, err := fromDir.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fromFile.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.TokenIDs, b.TokenIDs) {
		t.Errorf("HF directory generated %v\nGGUF file generated     %v", a.TokenIDs, b.TokenIDs)
	}
	// The GGUF lists the 57 padding rows as [PADn] tokens; they must not
	// be sampled.
	if fromFile.vocab != 263 {
		t.Errorf("GGUF vocabulary has %d sampleable tokens, want 263", fromFile.vocab)
	}
}

// TestTinyModelConcurrent runs generations on two slots at once through the
// real forward pass; each must match its sequential run.
func TestTinyModelConcurrent(t *testing.T) {
	// Q8_0 weights: whether the two share a step (timing) cannot change a
	// bit of their logits.
	l := loadTinyQ8(t, LocalOptions{Parallel: 2})
	prompts := []string{"alpha", "你好世界", "gamma delta", "epsilon"}
	req := func(p string) Request {
		return Request{Prompt: p, MaxTokens: 16, Sampling: &Sampling{Temperature: 0.7, Seed: 11}}
	}
	want := map[string][]int{}
	for _, p := range prompts {
		res, err := l.Generate(context.Background(), req(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = res.TokenIDs
	}
	got := make([][]int, len(prompts))
	done := make(chan int)
	for i, p := range prompts {
		go func() {
			defer func() { done <- i }()
			res, err := l.Generate(context.Background(), req(p), nil)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = res.TokenIDs
		}()
	}
	for range prompts {
		<-done
	}
	for i, p := range prompts {
		if !slices.Equal(got[i], want[p]) {
			t.Errorf("%q: concurrent %v, sequential %v", p, got[i], want[p])
		}
	}
}

// closeCounter records whether an engine closed the weights it was given.
type closeCounter struct {
	weights.Source
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return c.Source.Close() }

// TestLoadLocalFrom: an engine over weights the caller opened generates
// what LoadLocal's does, owns them (Close closes them once), and closes
// them when loading fails before the model is built.
func TestLoadLocalFrom(t *testing.T) {
	dir := tinyModelDir(t)
	want, err := LoadLocal(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	src, cfg, err := qwen2.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cc := &closeCounter{Source: src}
	got, err := LoadLocalFrom(dir, cc, cfg, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Messages: []Message{{Role: "user", Content: "hello"}}, MaxTokens: 12, Sampling: &Sampling{}}
	a, err := want.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := got.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.TokenIDs, b.TokenIDs) {
		t.Errorf("LoadLocalFrom generated %v, LoadLocal %v", b.TokenIDs, a.TokenIDs)
	}
	got.Close()
	if cc.closed != 1 {
		t.Errorf("weights closed %d times by Close, want 1", cc.closed)
	}

	src, cfg, err = qwen2.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cc = &closeCounter{Source: src}
	if _, err := LoadLocalFrom(t.TempDir(), cc, cfg, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("no tokenizer: err = %v", err)
	}
	if cc.closed != 1 {
		t.Errorf("weights closed %d times after a failed load, want 1", cc.closed)
	}
}
