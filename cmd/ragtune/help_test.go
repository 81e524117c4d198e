package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// helpText runs "ragtune ARGS --help" in process and returns what it
// printed; commands print help on os.Stderr, so both streams are captured.
func helpText(t *testing.T, args ...string) (string, int) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "help.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = f, f
	code := runMain(append(args, "--help"), f, f)
	os.Stdout, os.Stderr = stdout, stderr
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b), code
}

// TestHelpTexts reads every command's --help as a new user would and
// fails on the problems issue 20 found: sentinel defaults printed after a
// stated default, documents that are not in the repository, a synopsis
// naming the wrong command, generic placeholders.
func TestHelpTexts(t *testing.T) {
	var cmds [][]string
	for name := range commands {
		if subs, ok := groups[name]; ok {
			for sub := range subs {
				cmds = append(cmds, []string{name, sub})
			}
			continue
		}
		cmds = append(cmds, []string{name})
	}
	sort.Slice(cmds, func(i, j int) bool { return strings.Join(cmds[i], " ") < strings.Join(cmds[j], " ") })
	twoDefaults := regexp.MustCompile(`default[^\n]*\(default `)
	singleDash := regexp.MustCompile(`\n  -[a-z]`)
	for _, c := range cmds {
		name := strings.Join(c, " ")
		text, code := helpText(t, c...)
		if code != 0 {
			t.Errorf("ragtune %s --help: exit %d", name, code)
		}
		if !strings.HasPrefix(text, "Usage: ragtune "+name) {
			t.Errorf("ragtune %s --help starts %q, want \"Usage: ragtune %s\"", name, firstLine(text), name)
		}
		if m := singleDash.FindString(text); m != "" {
			t.Errorf("ragtune %s --help lists a flag as %q; the docs write --flag", name, strings.TrimSpace(m))
		}
		for _, bad := range []string{"(default -1)", "ANCHORS.md", "../shared"} {
			if strings.Contains(text, bad) {
				t.Errorf("ragtune %s --help contains %q", name, bad)
			}
		}
		if m := twoDefaults.FindString(text); m != "" {
			t.Errorf("ragtune %s --help states a default twice: %q", name, m)
		}
		if strings.Contains(text, "Flags:\n\n") || strings.HasSuffix(strings.TrimSpace(text), "Flags:") {
			t.Errorf("ragtune %s --help has an empty Flags section", name)
		}
	}
	for _, name := range []string{"train", "eval run", "eval retrieval", "chat", "run", "compare", "demo"} {
		text, _ := helpText(t, strings.Fields(name)...)
		if name != "demo" && !strings.Contains(text, "\nExamples:\n") {
			t.Errorf("ragtune %s --help has no examples", name)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestVersion: never the old hard-coded "0.1.0-dev", never a bare
// "(devel)"; a test binary records no commit, and says why.
func TestVersion(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout := os.Stdout
	os.Stdout = f
	code := runMain([]string{"version"}, f, f)
	os.Stdout = stdout
	b, _ := os.ReadFile(f.Name())
	out := string(b)
	if code != 0 || !strings.HasPrefix(out, "ragtune ") || strings.Contains(out, "0.1.0-dev") || strings.Contains(out, "(devel)") {
		t.Errorf("ragtune version: exit %d, %q", code, out)
	}
	if code := runMain([]string{"version", "extra"}, f, f); code != 2 {
		t.Errorf("ragtune version extra: exit %d, want 2", code)
	}
}
