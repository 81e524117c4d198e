// Command ragtune fine-tunes, quantizes, evaluates and serves DeepSeek-R1
// distilled (Qwen2) models and builds retrieval-augmented knowledge bases,
// all in one binary with no Python and no external server.
//
// Each subcommand lives in its own file and registers itself in init, so
// this file only dispatches and prints help.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"ragtune/internal/buildinfo"
	"ragtune/internal/cli"
)

// command is one subcommand. run receives the arguments after the command
// name (for groups such as "model", after the group name).
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("ragtune: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by bad command-line input; main prints it
// with a hint instead of as a failure of the work itself.
var errUsage = cli.ErrUsage

func usageErrorf(format string, args ...any) error { return cli.Usagef(format, args...) }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "ragtune — fine-tune, quantize, evaluate and serve DeepSeek-R1 distilled models, with RAG.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: ragtune <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ragtune <command> --help' for the flags of one command.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit status (every command):")
	fmt.Fprintln(w, "  0    done")
	fmt.Fprintln(w, "  1    the work failed: a missing or unreadable input, a file that is not a model,")
	fmt.Fprintln(w, "       malformed data, the network, training that diverged")
	fmt.Fprintln(w, "  2    the command line is wrong: an unknown or invalid flag, a missing required flag,")
	fmt.Fprintln(w, "       an output that exists (pass --force) or cannot be written")
	fmt.Fprintln(w, "  130  interrupted (Ctrl-C); train saves a checkpoint and prints the command to resume")
}

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return exitCode(c.run([]string{"--help"}), stderr)
			}
		}
		printUsage(stdout)
		return 0
	case "-version", "--version":
		fmt.Fprintln(stdout, "ragtune", buildinfo.Version())
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ragtune: unknown command %q\n", args[0])
		if s := suggest(args[0]); s != "" {
			fmt.Fprintf(stderr, "Did you mean %q?\n", s)
		}
		fmt.Fprintln(stderr, "Run 'ragtune help' for the list of commands.")
		return 2
	}
	return exitCode(c.run(args[1:]), stderr)
}

// exitCode prints err and maps it to the one exit-code convention
// (internal/cli): 0 done, 1 the work failed, 2 a usage error, 130
// interrupted.
func exitCode(err error, stderr io.Writer) int { return cli.ExitCode(err, stderr) }

// suggest returns the registered command closest to name, if any is close.
func suggest(name string) string {
	best, bestD := "", 3
	for n := range commands {
		if d := cli.EditDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// newFlagSet returns a FlagSet whose --help prints a synopsis, a
// description and the flags (cli.NewFlagSet).
func newFlagSet(name, synopsis, description string) *flag.FlagSet {
	return cli.NewFlagSet(name, synopsis, description)
}

// stringList is a repeatable string flag.
type stringList = cli.StringList

// parseFlags parses args, turning flag errors into usage errors so main
// exits 2 with the message; --help returns flag.ErrHelp (exit 0).
// Flags may follow positional arguments, as users often type them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := cli.ParseInterspersed(fs, args, strings.TrimPrefix(fs.Name(), "ragtune ")); err != nil {
		return err
	}
	return resolveOllamaModel(fs) // --model deepseek-r1:1.5b (model_ollama.go)
}

// groupSummaries describes command groups whose subcommands live in
// several files (for example "model init" and "model convert").
var groupSummaries = map[string]string{
	"model": "create, inspect, convert and download model directories; train tokenizers",
	"eval":  "evaluate models and retrieval (perplexity, BLEU, ROUGE, ...)",
	"kb":    "list, inspect and delete knowledge bases",
	"lora":  "work with LoRA adapters (merge)",
}

type subcommand struct {
	summary string
	run     func(args []string) error
}

var groups = map[string]map[string]subcommand{}

// registerSub adds "group name" as a subcommand, creating the group's
// top-level command on first use, so each subcommand keeps its own file.
func registerSub(group, name, summary string, run func(args []string) error) {
	subs, ok := groups[group]
	if !ok {
		subs = map[string]subcommand{}
		groups[group] = subs
		sum := groupSummaries[group]
		if sum == "" {
			sum = group + " subcommands"
		}
		register(&command{name: group, summary: sum, run: func(args []string) error {
			return dispatchGroup(group, args)
		}})
	}
	if _, dup := subs[name]; dup {
		panic("ragtune: duplicate subcommand " + group + " " + name)
	}
	subs[name] = subcommand{summary: summary, run: run}
}

// groupDefault names the subcommand a group runs when its first argument
// is a flag ("ragtune eval --model M" is "ragtune eval run --model M").
var groupDefault = map[string]string{}

func dispatchGroup(group string, args []string) error {
	subs := groups[group]
	if def, ok := groupDefault[group]; ok && len(args) > 0 && strings.HasPrefix(args[0], "-") &&
		args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		return subs[def].run(args)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(os.Stderr, "Usage: ragtune %s <subcommand> [flags]\n\nSubcommands:\n", group)
		names := make([]string, 0, len(subs))
		width := 12 // the top-level list's column, unless a name is longer
		for n := range subs {
			names = append(names, n)
			width = max(width, len(n))
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-*s %s\n", width, n, subs[n].summary)
		}
		if len(args) == 0 {
			return usageErrorf("%s needs a subcommand", group)
		}
		return flag.ErrHelp
	}
	sc, ok := subs[args[0]]
	if !ok {
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		if s := cli.Suggest(args[0], names); s != "" {
			return usageErrorf("unknown subcommand %q for %q; did you mean %q? (see 'ragtune %s --help')", args[0], group, s, group)
		}
		return usageErrorf("unknown subcommand %q for %q (see 'ragtune %s --help')", args[0], group, group)
	}
	return sc.run(args[1:])
}
