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

// table holds every subcommand; each registers itself from its own file's
// init. Group summaries describe groups whose subcommands live in several
// files (for example "model init" and "model convert").
var table = func() *cli.Commands {
	t := cli.NewCommands("ragtune")
	t.GroupSummaries = map[string]string{
		"model": "create, inspect, convert and download model directories; train tokenizers",
		"eval":  "evaluate models and retrieval (perplexity, BLEU, ROUGE, ...)",
		"kb":    "list, inspect and delete knowledge bases",
		"lora":  "work with LoRA adapters (merge)",
	}
	return t
}()

var (
	commands = table.Top
	groups   = table.Groups
	// groupDefault names the subcommand a group runs when its first
	// argument is a flag ("ragtune eval --model M" is "ragtune eval run
	// --model M").
	groupDefault = table.GroupDefault
)

func register(c *command) {
	table.Add(&cli.Command{Name: c.name, Summary: c.summary, Run: c.run})
}

// registerSub adds "group name" as a subcommand, creating the group's
// top-level command on first use, so each subcommand keeps its own file.
func registerSub(group, name, summary string, run func(args []string) error) {
	table.AddSub(group, name, summary, run)
}

func dispatchGroup(group string, args []string) error { return table.RunGroup(group, args) }

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
	table.WriteList(w)
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
	return table.Main(args, stdout, stderr, printUsage, buildinfo.Version())
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
