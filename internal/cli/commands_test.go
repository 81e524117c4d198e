package cli

import (
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

func testTable(ran *[]string) *Commands {
	t := NewCommands("prog")
	t.GroupSummaries["model"] = "model things"
	t.GroupDefault["eval"] = "run"
	rec := func(name string) func([]string) error {
		return func(args []string) error {
			*ran = append(*ran, name+" "+strings.Join(args, " "))
			if len(args) > 0 && args[0] == "--help" {
				return flag.ErrHelp
			}
			if len(args) > 0 && args[0] == "bad" {
				return Usagef("bad input")
			}
			return nil
		}
	}
	t.Add(&Command{Name: "run", Summary: "generate", Run: rec("run")})
	t.AddSub("model", "init", "write a model", rec("model init"))
	t.AddSub("model", "convert", "convert a model", rec("model convert"))
	t.AddSub("eval", "run", "run suites", rec("eval run"))
	return t
}

func TestCommandsMain(t *testing.T) {
	var ran []string
	tab := testTable(&ran)
	usage := func(w io.Writer) { io.WriteString(w, "USAGE\n") }
	var out, errw strings.Builder
	tests := []struct {
		args            []string
		code            int
		wantOut, wantEr string
		ran             string
	}{
		{nil, Usage, "", "USAGE\n", ""},
		{[]string{"help"}, OK, "USAGE\n", "", ""},
		{[]string{"help", "run"}, OK, "", "", "run --help"},
		{[]string{"--version"}, OK, "prog v1\n", "", ""},
		{[]string{"rnu"}, Usage, "", "prog: unknown command \"rnu\"\nDid you mean \"run\"?\nRun 'prog help' for the list of commands.\n", ""},
		{[]string{"zzzzzzzz"}, Usage, "", "prog: unknown command \"zzzzzzzz\"\nRun 'prog help' for the list of commands.\n", ""},
		{[]string{"run", "a", "b"}, OK, "", "", "run a b"},
		{[]string{"run", "bad"}, Usage, "", "ragtune: bad input\n", "run bad"},
		{[]string{"model", "init", "x"}, OK, "", "", "model init x"},
		{[]string{"eval", "--model", "m"}, OK, "", "", "eval run --model m"},
	}
	for _, tc := range tests {
		out.Reset()
		errw.Reset()
		ran = nil
		code := tab.Main(tc.args, &out, &errw, usage, "v1")
		if code != tc.code || out.String() != tc.wantOut || errw.String() != tc.wantEr || strings.TrimSpace(strings.Join(ran, "|")) != tc.ran {
			t.Errorf("%q: exit %d out %q err %q ran %q; want %d %q %q %q", tc.args, code, out.String(), errw.String(), ran, tc.code, tc.wantOut, tc.wantEr, tc.ran)
		}
	}
	var list strings.Builder
	tab.WriteList(&list)
	want := "  eval         eval subcommands\n  model        model things\n  run          generate\n"
	if list.String() != want {
		t.Errorf("list:\n%q\nwant\n%q", list.String(), want)
	}
}

func TestCommandsRunGroup(t *testing.T) {
	var ran []string
	tab := testTable(&ran)
	if err := tab.RunGroup("model", []string{"inti"}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `unknown subcommand "inti" for "model"; did you mean "init"? (see 'prog model --help')`) {
		t.Errorf("typo: %v", err)
	}
	// The listing goes to stderr: capture it.
	r, w, _ := os.Pipe()
	saved := os.Stderr
	os.Stderr = w
	errNone := tab.RunGroup("model", nil)
	errHelp := tab.RunGroup("model", []string{"--help"})
	os.Stderr = saved
	w.Close()
	b, _ := io.ReadAll(r)
	if !errors.Is(errNone, ErrUsage) || !errors.Is(errHelp, flag.ErrHelp) {
		t.Errorf("no subcommand: %v; --help: %v", errNone, errHelp)
	}
	listing := "Usage: prog model <subcommand> [flags]\n\nSubcommands:\n  convert      convert a model\n  init         write a model\n"
	if string(b) != listing+listing {
		t.Errorf("listing:\n%s", b)
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate subcommand did not panic")
		}
	}()
	tab.AddSub("model", "init", "again", nil)
}
