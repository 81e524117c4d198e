package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// Command is one subcommand: the one-line summary the command list shows
// and what runs it with the arguments after its name.
type Command struct {
	Name, Summary string
	Run           func(args []string) error
}

// Commands is a program's table of subcommands, some of them in groups
// whose members live in separate files ("model init", "model convert").
// It lists them, dispatches to them and suggests the nearest name for a
// typo; each command still parses its own flags.
type Commands struct {
	Program string
	// Top holds the top-level commands by name, groups included.
	Top map[string]*Command
	// Groups holds each group's subcommands by name.
	Groups map[string]map[string]*Command
	// GroupSummaries describe groups in the top-level list ("<group>
	// subcommands" when missing).
	GroupSummaries map[string]string
	// GroupDefault names the subcommand a group runs when its first
	// argument is a flag ("eval --model M" is "eval run --model M").
	GroupDefault map[string]string
}

// NewCommands returns an empty table for program.
func NewCommands(program string) *Commands {
	return &Commands{Program: program, Top: map[string]*Command{}, Groups: map[string]map[string]*Command{},
		GroupSummaries: map[string]string{}, GroupDefault: map[string]string{}}
}

// Add registers a top-level command; a duplicate name is a programming
// error and panics.
func (t *Commands) Add(c *Command) {
	if _, dup := t.Top[c.Name]; dup {
		panic(t.Program + ": duplicate command " + c.Name)
	}
	t.Top[c.Name] = c
}

// AddSub registers "group name", creating the group's top-level command
// on first use, so each subcommand can register itself from its own file.
func (t *Commands) AddSub(group, name, summary string, run func(args []string) error) {
	subs, ok := t.Groups[group]
	if !ok {
		subs = map[string]*Command{}
		t.Groups[group] = subs
		sum := t.GroupSummaries[group]
		if sum == "" {
			sum = group + " subcommands"
		}
		t.Add(&Command{Name: group, Summary: sum, Run: func(args []string) error { return t.RunGroup(group, args) }})
	}
	if _, dup := subs[name]; dup {
		panic(t.Program + ": duplicate subcommand " + group + " " + name)
	}
	subs[name] = &Command{Name: name, Summary: summary, Run: run}
}

// writeList prints "  name summary" lines sorted by name, the names in a
// column at least 12 wide (wider when a name is longer and wide is set).
func writeList(w io.Writer, cmds map[string]*Command, wide bool) {
	names := make([]string, 0, len(cmds))
	width := 12
	for n := range cmds {
		names = append(names, n)
		if wide {
			width = max(width, len(n))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, cmds[n].Summary)
	}
}

// WriteList prints the top-level commands, one per line, by name.
func (t *Commands) WriteList(w io.Writer) { writeList(w, t.Top, false) }

// Main runs the command args name and returns the exit code (ExitCode):
// no arguments print usage to stderr (exit 2); help, -h and --help print
// it to stdout, or with a command name that command's --help; --version
// prints version; an unknown command is named with the nearest one.
func (t *Commands) Main(args []string, stdout, stderr io.Writer, usage func(io.Writer), version string) int {
	if len(args) == 0 {
		usage(stderr)
		return Usage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c, ok := t.Top[args[1]]; ok {
				return ExitCode(c.Run([]string{"--help"}), stderr)
			}
		}
		usage(stdout)
		return OK
	case "-version", "--version":
		fmt.Fprintln(stdout, t.Program, version)
		return OK
	}
	c, ok := t.Top[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", t.Program, args[0])
		if s := t.nearest(args[0]); s != "" {
			fmt.Fprintf(stderr, "Did you mean %q?\n", s)
		}
		fmt.Fprintf(stderr, "Run '%s help' for the list of commands.\n", t.Program)
		return Usage
	}
	return ExitCode(c.Run(args[1:]), stderr)
}

// nearest returns the command closest to name within 2 edits, if any.
func (t *Commands) nearest(name string) string {
	best, bestD := "", 3
	for n := range t.Top {
		if d := EditDistance(name, n); d < bestD || (d == bestD && n < best) {
			best, bestD = n, d
		}
	}
	return best
}

// RunGroup runs "group args[0] args[1:]". Without a subcommand, or with
// --help, it lists the group's subcommands on stderr (a missing one is a
// usage error); an unknown one is a usage error with a suggestion.
func (t *Commands) RunGroup(group string, args []string) error {
	subs := t.Groups[group]
	if def, ok := t.GroupDefault[group]; ok && len(args) > 0 && len(args[0]) > 0 && args[0][0] == '-' &&
		args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		return subs[def].Run(args)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(os.Stderr, "Usage: %s %s <subcommand> [flags]\n\nSubcommands:\n", t.Program, group)
		writeList(os.Stderr, subs, true)
		if len(args) == 0 {
			return Usagef("%s needs a subcommand", group)
		}
		return flag.ErrHelp
	}
	sc, ok := subs[args[0]]
	if !ok {
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		if s := Suggest(args[0], names); s != "" {
			return Usagef("unknown subcommand %q for %q; did you mean %q? (see '%s %s --help')", args[0], group, s, t.Program, group)
		}
		return Usagef("unknown subcommand %q for %q (see '%s %s --help')", args[0], group, t.Program, group)
	}
	return sc.Run(args[1:])
}
