package main

import (
	"strings"
	"testing"

	"ragtune/llm"
)

// TestRunWarnsWhenThinkingNeverCloses: a reasoning model that spends every
// token inside <think> leaves stdout empty; run still succeeds (exit 0)
// and says on stderr why and what to raise.
func TestRunWarnsWhenThinkingNeverCloses(t *testing.T) {
	dir := genTestModel(t)
	stdout, stderr, err := runCLI(t, run, "", "--model", dir, "--prompt", "hi", "--max-tokens", "5", "--temperature", "0")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want no answer", stdout)
	}
	want := "warning: no answer: the model spent all 5 tokens thinking (</think> never came); raise --max-tokens, or pass --no-think\n"
	if !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr does not end with %q:\n%s", want, stderr)
	}
	// --no-think answers directly: no warning.
	_, stderr, err = runCLI(t, run, "", "--model", dir, "--prompt", "hi", "--max-tokens", "5", "--temperature", "0", "--no-think")
	if err != nil || strings.Contains(stderr, "warning:") {
		t.Errorf("--no-think: %v, stderr %q", err, stderr)
	}
}

func TestWarnNoAnswerRemedies(t *testing.T) {
	tests := []struct {
		res       llm.Result
		maxTokens int
		want      string
	}{
		{llm.Result{ThinkingUnclosed: true, FinishReason: llm.FinishLength, CompletionTokens: 1016}, 1016,
			"warning: no answer: the model spent all 1016 tokens thinking (</think> never came); raise --max-tokens, or pass --no-think\n"},
		{llm.Result{ThinkingUnclosed: true, FinishReason: llm.FinishLength, CompletionTokens: 300}, 2048,
			"warning: no answer: the model spent all 300 tokens thinking (</think> never came); the context is full: raise --ctx, or pass --no-think\n"},
		{llm.Result{ThinkingUnclosed: true, FinishReason: llm.FinishEOS, CompletionTokens: 9}, 2048,
			"warning: no answer: the model ended inside its reasoning (</think> never came); pass --no-think, or ask again\n"},
		{llm.Result{Text: "fine", FinishReason: llm.FinishLength, CompletionTokens: 9}, 9, ""},
	}
	for _, tc := range tests {
		var b strings.Builder
		warnNoAnswer(&b, &tc.res, tc.maxTokens)
		if b.String() != tc.want {
			t.Errorf("got %q, want %q", b.String(), tc.want)
		}
	}
}
