// Package cli holds the conventions every ragtune command shares: which
// errors are usage errors (exit 2) and which are failures (exit 1), how a
// flag-parsing error becomes one line with a "did you mean", how output
// paths and model paths are checked before long work starts, how numeric
// flags are validated, how --help lists the flags, and the table of
// subcommands that dispatches to them. It is not a command framework:
// commands still parse their own flags with the standard flag package.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes. Usage means the command line itself is wrong and changing it
// fixes the problem (an unknown or invalid flag, a missing required flag,
// an output that exists without --force or cannot be written); Failure
// means the work failed (a missing or unreadable input, a file that is not
// a model, malformed data, the network, diverged training); Interrupted is
// Ctrl-C (SIGINT) or SIGTERM, the shell's 128+SIGINT.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Interrupted = 130
)

// ErrUsage marks an error caused by bad command-line input.
var ErrUsage = errors.New("usage error")

// ErrInterrupted marks a run the user stopped (Ctrl-C); its message says
// what was kept and how to continue.
var ErrInterrupted = errors.New("interrupted")

// Usagef returns a usage error with the formatted message.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Interruptedf returns an interruption error with the formatted message.
func Interruptedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInterrupted, fmt.Sprintf(format, args...))
}

// ExitCode prints err (if any) to stderr as one "ragtune: ..." message and
// returns the process exit code the convention gives it.
func ExitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return OK
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(stderr, "ragtune:", strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
		return Usage
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "ragtune:", strings.TrimPrefix(err.Error(), ErrInterrupted.Error()+": "))
		return Interrupted
	default:
		fmt.Fprintln(stderr, "ragtune:", err)
		return Failure
	}
}

// Suggest returns the candidate closest to name by edit distance, or ""
// when none is within a third of name's length (at least 2 edits), so a
// wild guess gets no suggestion.
func Suggest(name string, candidates []string) string {
	limit := max(2, len(name)/3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		d := EditDistance(name, c)
		// A prefix ("--lor" for "--lora-r") is a likely intent too, and so
		// is the last part of a compound name ("--keys" for "--api-keys").
		if strings.HasPrefix(c, name) && len(name) >= 3 {
			d = min(d, 1)
		} else if strings.HasSuffix(c, "-"+name) && len(name) >= 3 {
			d = min(d, limit)
		}
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Parse parses args with fs without the flag package's own error output
// (the message and the whole flag list): a parse error becomes one usage
// error, "unknown flag --modle; did you mean --model?" followed by where to
// find the flags. --help still prints fs.Usage and returns flag.ErrHelp.
// command is the name shown in the hint ("run", "model convert").
func Parse(fs *flag.FlagSet, args []string, command string) error {
	out, usage := fs.Output(), fs.Usage
	help := false
	fs.SetOutput(io.Discard)
	fs.Usage = func() { help = true }
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) && help {
		fs.Usage()
		return err
	}
	return Usagef("%s\n(see 'ragtune %s --help')", FlagError(fs, err), command)
}

// FlagError rewrites one of the flag package's parse errors in the --name
// form the documentation uses, with a suggestion for an unknown flag.
func FlagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		s := "unknown flag --" + name
		if g := Suggest(name, names); g != "" {
			s += "; did you mean --" + g + "?"
		}
		return s
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "--" + strings.TrimLeft(name, "-") + " needs a value"
	}
	// invalid value "x" for flag -lr: parse error
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			val, tail := rest[:i], rest[i+len(" for flag -"):]
			name, why, _ := strings.Cut(tail, ": ")
			why = strings.TrimPrefix(why, "parse error")
			if why == "" || strings.Contains(why, "invalid syntax") {
				why = "not a valid " + flagKind(fs.Lookup(strings.TrimLeft(name, "-")))
			}
			return fmt.Sprintf("--%s %s: %s", strings.TrimLeft(name, "-"), val, strings.TrimPrefix(why, ": "))
		}
	}
	if name, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return "bad flag syntax: " + name + " (flags look like --name value or --name=value)"
	}
	return msg
}

func flagKind(f *flag.Flag) string {
	if f == nil {
		return "value"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case int, int64, uint, uint64:
			return "integer"
		case float64:
			return "number"
		case bool:
			return "true or false"
		case interface{ Seconds() float64 }:
			return "duration (like 30s or 5m)"
		}
	}
	return "value"
}
