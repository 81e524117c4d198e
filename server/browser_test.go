package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChromium returns Debian's chromium (or another Chrome) or "".
func findChromium() string {
	if p := os.Getenv("RAGTUNE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser drives the web page in headless Chromium: it opens the
// page, picks a knowledge base, sends a message, sees the answer stream
// in with its reasoning and a citation, opens the cited chunk, uploads a
// document and sees it listed. A screenshot is saved and its path logged.
func TestBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skip("chromium not found (install Debian's chromium, or set RAGTUNE_CHROMIUM): browser test skipped")
	}
	eng := &scripted{
		reasoning: []string{"The question asks ", "for a capital; ", "passage [1] names it."},
		answer:    []string{"The capital ", "of France ", "is **Paris** [1].\n", "法国的首都是巴黎。"},
	}
	_, ts := testServer(t, Config{Engine: eng, ReportsDir: t.TempDir()})
	if st, b := do(t, "POST", ts.URL+"/v1/kb", `{"name":"geo"}`); st != 201 {
		t.Fatalf("create kb: %d %s", st, b)
	}
	doc := "# Capitals\n\n## Europe\n\nThe capital of France is Paris, on the Seine.\n\n## 亚洲\n\n日本的首都是东京。\n"
	if st, b := upload(t, ts.URL+"/v1/kb/geo/documents", "capitals.md", []byte(doc)); st != 201 {
		t.Fatalf("upload: %d %s", st, b)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitJS polls a JavaScript condition.
	waitJS := func(what, cond string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("waiting for %s (%s): %v", what, cond, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		must(js, err)
		return s
	}

	must("open page", chromedp.Do(ctx, chromedp.Navigate(ts.URL)))
	waitJS("page ready", `document.body.dataset.ready === "1"`)
	waitJS("kb listed", `[...document.querySelectorAll("#kb-select option")].some(o => o.value === "geo")`)
	if got := text(`getComputedStyle(document.getElementById("reports-link")).display`); got == "none" {
		t.Error("reports link hidden although a reports dir is configured")
	}

	// Answer from the knowledge base.
	must("pick kb", chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#kb-select"), "geo")))
	text(`document.getElementById("kb-select").dispatchEvent(new Event("change")), ""`)
	waitJS("documents listed", `document.querySelector("#docs").textContent.includes("capitals.md")`)
	must("type", chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#input"), "What is the capital of France?")))
	must("send", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#send"))))
	waitJS("answer finished", `document.querySelector(".msg.assistant")?.dataset.done === "1"`)

	if got, want := text(`document.querySelector(".msg.assistant .bubble").textContent`), strings.Join(eng.answer, ""); got != want {
		t.Errorf("answer shown = %q, want %q", got, want)
	}
	if got, want := text(`document.querySelector(".msg.assistant .think-text").textContent`), strings.Join(eng.reasoning, ""); got != want {
		t.Errorf("reasoning shown = %q, want %q", got, want)
	}
	// Streamed: the page read the answer in several events, not one.
	if n := text(`document.querySelector(".msg.assistant").dataset.chunks`); n == "" || n == "1" || n == "2" {
		t.Errorf("the page got %q stream events; want one per piece", n)
	}
	if got := text(`String(document.querySelector("details.think").open)`); got != "false" {
		t.Errorf("reasoning open after the answer began: %s (want collapsed)", got)
	}
	cite := text(`document.querySelector(".cites .cite")?.textContent || ""`)
	if !strings.Contains(cite, "[1]") || !strings.Contains(cite, "capitals.md") {
		t.Fatalf("citation button = %q, want [1] capitals.md", cite)
	}
	// The citation opens its chunk.
	must("open citation", chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".cites .cite"))))
	waitJS("source shown", `!document.getElementById("source").hidden && document.getElementById("source-text").textContent.includes("Paris")`)

	// Upload a document through the form.
	up := filepath.Join(t.TempDir(), "notes-笔记.txt")
	os.WriteFile(up, []byte("Tokyo is the capital of Japan. 东京是日本的首都。\n"), 0o644)
	must("choose file", chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{up})))
	must("upload", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#upload-form button"))))
	waitJS("upload listed", `document.querySelector("#docs").textContent.includes("notes-笔记.txt")`)
	if st := text(`document.getElementById("kb-status").className`); strings.Contains(st, "error") {
		t.Errorf("upload status is an error: %s", text(`document.getElementById("kb-status").textContent`))
	}
	_, b := do(t, "GET", ts.URL+"/v1/kb/geo/documents", "")
	if !strings.Contains(string(b), "notes-笔记.txt") {
		t.Errorf("server does not list the uploaded file: %s", b)
	}

	// Two quick selections (overlapping change events) list each document
	// once: only the latest fetch renders.
	text(`(() => { const s = document.getElementById("kb-select"); s.dispatchEvent(new Event("change")); s.dispatchEvent(new Event("change")); s.dispatchEvent(new Event("change")); return ""; })()`)
	waitJS("documents relisted", `document.querySelectorAll("#docs li").length >= 2`)
	time.Sleep(300 * time.Millisecond) // let any late render land
	if n := text(`String(document.querySelectorAll("#docs li").length)`); n != "2" {
		t.Errorf("after overlapping change events the list has %s rows, want 2: %s", n, text(`document.querySelector("#docs").textContent`))
	}

	// The page itself may create a knowledge base (a same-origin JSON POST).
	text(`document.getElementById("kb-name").value = "frompage", document.getElementById("kb-create").requestSubmit(), ""`)
	waitJS("page-created kb listed", `[...document.querySelectorAll("#kb-select option")].some(o => o.value === "frompage")`)

	// Another loopback origin cannot: a no-cors text/plain POST and a
	// FormData upload (issue 13's reproduction) change nothing.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><body><script>
const t = %q;
fetch(t + "/v1/kb", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: JSON.stringify({name: "fromevil"})})
  .catch(() => {})
  .then(() => { const fd = new FormData(); fd.append("file", new Blob(["evil upload\n"]), "evil.txt");
    return fetch(t + "/v1/kb/geo/documents", {method: "POST", mode: "no-cors", body: fd}); })
  .catch(() => {})
  .then(() => { document.body.dataset.done = "1"; });
</script></body>`, ts.URL)
	}))
	defer evil.Close()
	must("open foreign page", chromedp.Do(ctx, chromedp.Navigate(evil.URL)))
	waitJS("foreign page done", `document.body.dataset.done === "1"`)
	if st, b := do(t, "GET", ts.URL+"/v1/kb/fromevil", ""); st != 404 {
		t.Errorf("a foreign page created a knowledge base: %d %s", st, b)
	}
	if _, b := do(t, "GET", ts.URL+"/v1/kb/geo/documents", ""); strings.Contains(string(b), "evil.txt") {
		t.Errorf("a foreign page uploaded a file: %s", b)
	}
	must("back to the page", chromedp.Do(ctx, chromedp.Navigate(ts.URL)))
	waitJS("page ready again", `document.body.dataset.ready === "1"`)

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must("screenshot", err)
	dir := os.Getenv("RAGTUNE_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("ragtune-browser-%d.png", time.Now().UnixNano()))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
