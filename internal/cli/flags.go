package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// OptFloat is a float flag that remembers whether it was given, so a flag
// left unset keeps a default decided later (a model's sampling defaults).
type OptFloat struct {
	V     float64
	Given bool
}

func (o *OptFloat) String() string {
	if o == nil || !o.Given {
		return ""
	}
	return strconv.FormatFloat(o.V, 'g', -1, 64)
}

// Set implements flag.Value.
func (o *OptFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return errors.New("not a number")
	}
	o.V, o.Given = v, true
	return nil
}

// Ptr is the value, or nil when the flag was not given.
func (o *OptFloat) Ptr() *float64 {
	if !o.Given {
		return nil
	}
	return &o.V
}

// OptInt is OptFloat for integers.
type OptInt struct {
	V     int64
	Given bool
}

func (o *OptInt) String() string {
	if o == nil || !o.Given {
		return ""
	}
	return strconv.FormatInt(o.V, 10)
}

// Set implements flag.Value.
func (o *OptInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	o.V, o.Given = v, true
	return nil
}

// Ptr is the value, or nil when the flag was not given.
func (o *OptInt) Ptr() *int64 {
	if !o.Given {
		return nil
	}
	return &o.V
}

// StringList is a repeatable string flag: each use appends one value.
type StringList []string

func (l *StringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ", ")
}

// Set implements flag.Value.
func (l *StringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// NewFlagSet returns the FlagSet of 'ragtune NAME': --help prints
// "Usage: ragtune NAME SYNOPSIS", the description and the flags (see
// PrintFlags). Parse it with Parse so errors become usage errors.
func NewFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("ragtune "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, strings.TrimSpace("Usage: ragtune "+name+" "+synopsis))
		if description != "" {
			fmt.Fprintln(out)
			fmt.Fprintln(out, strings.TrimSpace(description))
		}
		PrintFlags(out, fs)
	}
	return fs
}

// PrintFlags lists the flags as flag.PrintDefaults does, but with the
// "--name" form the documentation uses, and without "(default X)" where
// the usage text already says what the default is: flags whose zero or -1
// stands for "decided later" would otherwise print that sentinel.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintln(w, "\nFlags:")
			first = false
		}
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if showDefault(f, usage) {
			if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.String {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			} else {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
		}
		fmt.Fprintln(w)
	})
}

func showDefault(f *flag.Flag, usage string) bool {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
		return false
	}
	return !strings.Contains(usage, "default")
}

// ParseInterspersed is Parse for commands whose flags may follow
// positional arguments, as users often type them ("ask QUESTION --kb
// docs"); "--" ends the flags. Afterwards fs.Args() holds the positional
// arguments in their order.
func ParseInterspersed(fs *flag.FlagSet, args []string, command string) error {
	var positional []string
	for {
		if err := Parse(fs, args, command); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// Text reads a command's text input, given either as --NAME TEXT or as
// the words after the flags (not both); "-" reads standard input, without
// its final line break. It returns "" when neither was given.
func Text(name, flagValue string, words []string, stdin io.Reader) (string, error) {
	text := flagValue
	if rest := strings.Join(words, " "); rest != "" {
		if text != "" {
			return "", Usagef("give the %s once: --%s or words after the flags, not both", name, name)
		}
		text = rest
	}
	if text == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return "", fmt.Errorf("read %s from stdin: %w", name, err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	return text, nil
}

// ShellQuote quotes s for a POSIX shell when it needs quoting, so a
// printed command line can be pasted back as it is.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
