package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ragtune/llm"
)

// thinkingOnly reasons until the token limit and never closes </think>, as
// R1-1.5B does on a hard question with a small max_tokens.
type thinkingOnly struct{}

func (thinkingOnly) Generate(ctx context.Context, req llm.Request, onToken func(llm.Token) error) (*llm.Result, error) {
	res := &llm.Result{PromptTokens: 3, FinishReason: llm.FinishLength, ThinkingUnclosed: true}
	for i, piece := range []string{"Let me think. ", "First, ", "the question…"} {
		res.CompletionTokens++
		res.Reasoning += piece
		if err := onToken(llm.Token{ID: i, Text: piece, Reasoning: true}); err != nil {
			return res, err
		}
	}
	return res, nil
}

// TestBrowserNoAnswer: when the reasoning uses every token, the page says
// that no answer came and what to change, instead of an empty bubble.
func TestBrowserNoAnswer(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("chromium not found (install Debian's chromium, or set RAGTUNE_CHROMIUM): browser test skipped")
	}
	_, ts := testServer(t, Config{Engine: thinkingOnly{}})
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	wait := func(what, cond string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s (%s)", what, cond)
			}
		}
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		must(js, err)
		return s
	}
	must("open page", chromedp.Do(ctx, chromedp.Navigate(ts.URL)))
	wait("page ready", `document.body.dataset.ready === "1"`)
	text(`localStorage.setItem("ragtune.lang", "en"), ""`)
	must("reload", chromedp.Do(ctx, chromedp.Reload()))
	wait("page ready", `document.body.dataset.ready === "1"`)
	must("type", chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#input"), "Prove the Riemann hypothesis.")))
	must("send", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#send"))))
	wait("reply finished", `document.querySelector(".msg.assistant")?.dataset.done === "1"`)
	bubble := text(`document.querySelector(".msg.assistant .bubble").textContent`)
	class := text(`document.querySelector(".msg.assistant").className`)
	want := "No answer: the model spent all 3 tokens thinking (</think> never came). Raise Max tokens in Settings, or turn Thinking off."
	if bubble != want || !strings.Contains(class, "no-answer") {
		t.Errorf("bubble %q (class %q), want %q", bubble, class, want)
	}
	if got := text(`document.querySelector(".msg.assistant .think-text").textContent`); got != "Let me think. First, the question…" {
		t.Errorf("reasoning shown = %q", got)
	}
}
