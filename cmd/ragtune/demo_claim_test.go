package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoTimeClaim: the README, both guides and 'demo --help' state the
// same measured time for the demo (issue 20 found "under a minute", "about
// a minute" and "a few minutes" for one 25-second run).
func TestDemoTimeClaim(t *testing.T) {
	m := regexp.MustCompile(`in about (\d+) s on 2 cores \(--quick: about (\d+) s\)`).FindStringSubmatch(demoDescription)
	if m == nil {
		t.Fatalf("demo --help states no measured time:\n%s", demoDescription)
	}
	full, quick := m[1], m[2]
	want := map[string]string{
		"README.md":        fmt.Sprintf("about %s s on 2 cores (--quick: about %s s)", full, quick),
		"docs/guide.md":    fmt.Sprintf("about %s s on 2 cores (--quick: about %s s)", full, quick),
		"docs/guide.zh.md": fmt.Sprintf("2 核机器上约 %s 秒（--quick 约 %s 秒）", full, quick),
	}
	for file, claim := range want {
		b, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), claim) {
			t.Errorf("%s does not say %q", file, claim)
		}
		for _, stale := range []string{"under a minute", "about a minute", "a few minutes", "一分钟左右"} {
			if strings.Contains(string(b), stale) {
				t.Errorf("%s still says %q", file, stale)
			}
		}
	}
	// The --quick flag's own text carries the same figure.
	if help, _ := helpText(t, "demo"); !strings.Contains(help, fmt.Sprintf("about %s s on 2 cores; for tests", quick)) {
		t.Errorf("demo --help's --quick does not say about %s s:\n%s", quick, help)
	}
}
