package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Checks collects flag-value checks so a command can state its rules in a
// few lines and report the first broken one, naming the flag:
//
//	var c cli.Checks
//	c.Positive("--lr", *lr)
//	c.Range("--top-p", p, 0, 1)
//	if err := c.Err(); err != nil { return err }
type Checks struct{ err error }

// Err returns the first failed check as a usage error, or nil.
func (c *Checks) Err() error { return c.err }

func (c *Checks) fail(format string, args ...any) {
	if c.err == nil {
		c.err = Usagef(format, args...)
	}
}

// Finite requires a finite number (no NaN or ±Inf).
func (c *Checks) Finite(flag string, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		c.fail("%s must be a finite number, not %v", flag, v)
		return false
	}
	return true
}

// Positive requires a finite v > 0.
func (c *Checks) Positive(flag string, v float64) {
	if c.Finite(flag, v) && v <= 0 {
		c.fail("%s must be > 0, not %v", flag, v)
	}
}

// NonNegative requires a finite v >= 0.
func (c *Checks) NonNegative(flag string, v float64) {
	if c.Finite(flag, v) && v < 0 {
		c.fail("%s must be >= 0, not %v", flag, v)
	}
}

// Range requires a finite v in [lo, hi].
func (c *Checks) Range(flag string, v, lo, hi float64) {
	if c.Finite(flag, v) && (v < lo || v > hi) {
		c.fail("%s must be in [%v, %v], not %v", flag, lo, hi, v)
	}
}

// RangeOpenHigh requires a finite v in [lo, hi).
func (c *Checks) RangeOpenHigh(flag string, v, lo, hi float64) {
	if c.Finite(flag, v) && (v < lo || v >= hi) {
		c.fail("%s must be in [%v, %v), not %v", flag, lo, hi, v)
	}
}

// MinInt requires an integer v >= lo.
func (c *Checks) MinInt(flag string, v, lo int) {
	if v < lo {
		c.fail("%s must be >= %d, not %d", flag, lo, v)
	}
}

// Check adds a rule of the command's own; msg is the whole message.
func (c *Checks) Check(ok bool, format string, args ...any) {
	if !ok {
		c.fail(format, args...)
	}
}

// OutputFile checks, before any long work, that path can receive a new
// file: its directory exists, it is not itself a directory, and it does not
// exist unless force (named by flag in the message, with --force as the way
// out). A failed check is a usage error.
func OutputFile(flag, path string, force bool) error {
	if path == "" {
		return Usagef("%s is empty", flag)
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return Usagef("%s %s is a directory; give a file name, e.g. %s", flag, path, filepath.Join(path, "model.gguf"))
	case err == nil && !force:
		return Usagef("%s %s already exists: choose another %s or pass --force to overwrite it", flag, path, flag)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return Usagef("%s %s: %v", flag, path, err)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return Usagef("%s %s: directory %s does not exist (create it first)", flag, path, dir)
	} else if !st.IsDir() {
		return Usagef("%s %s: %s is not a directory", flag, path, dir)
	}
	return nil
}

// OutputDir checks that path can receive a command's output directory: it
// is absent (its parent must exist or be creatable: MkdirAll makes it) or
// an empty directory, or force is set; what is in it is named so the user
// sees what --force would replace. A failed check is a usage error.
func OutputDir(flag, path string, force bool) error {
	if path == "" {
		return Usagef("%s is empty", flag)
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		// The nearest existing ancestor must be a directory.
		for p := filepath.Dir(path); ; p = filepath.Dir(p) {
			if st, err := os.Stat(p); err == nil {
				if !st.IsDir() {
					return Usagef("%s %s: %s is a file, not a directory", flag, path, p)
				}
				return nil
			}
			if p == filepath.Dir(p) {
				return nil
			}
		}
	}
	if err != nil {
		return Usagef("%s %s: %v", flag, path, err)
	}
	if !st.IsDir() {
		return Usagef("%s %s is a file; give a directory", flag, path)
	}
	if force {
		return nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return Usagef("%s %s: %v", flag, path, err)
	}
	if len(ents) > 0 {
		names := make([]string, 0, 3)
		for _, e := range ents[:min(3, len(ents))] {
			names = append(names, e.Name())
		}
		more := ""
		if len(ents) > 3 {
			more = fmt.Sprintf(", … %d entries", len(ents))
		}
		return Usagef("%s %s is not empty (%s%s): choose another %s or pass --force to overwrite it", flag, path, strings.Join(names, ", "), more, flag)
	}
	return nil
}

// ModelPath checks that path names something a model can be loaded from,
// before any loading starts, with the same words for every command: an HF
// model directory (config.json), a GGUF file (magic "GGUF"), or a
// .safetensors file. A Hugging Face repository id that is not on disk gets
// the 'ragtune model pull' command. Failures are runtime errors (exit 1):
// the command line is fine, the file is not.
func ModelPath(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if looksLikeRepoID(path) {
			name := path[strings.LastIndex(path, "/")+1:]
			return fmt.Errorf("model %q not found: it looks like a Hugging Face id; download it first with 'ragtune model pull %s' (into ./%s) and pass --model %s", path, path, name, name)
		}
		return fmt.Errorf("model %q not found: pass an HF model directory or a .gguf file ('ragtune model init' makes a test model)", path)
	}
	if err != nil {
		return fmt.Errorf("model %q: %w", path, err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "config.json")); err != nil {
			if ggufs, _ := filepath.Glob(filepath.Join(path, "*.gguf")); len(ggufs) > 0 {
				return fmt.Errorf("model %q is not a model directory (no config.json); did you mean the GGUF file %s?", path, ggufs[0])
			}
			return fmt.Errorf("model %q is not a model directory: it has no config.json", path)
		}
		return nil
	}
	if st.Size() == 0 {
		return fmt.Errorf("model %q is an empty file, not a model", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("model %q: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case bytes.Equal(head, []byte("GGUF")):
		return nil
	case ext == ".safetensors":
		return nil
	case ext == ".gguf" && n < 4:
		return fmt.Errorf("model %q is not a GGUF file: only %d bytes", path, st.Size())
	case ext == ".gguf":
		return fmt.Errorf("model %q is not a GGUF file (it does not start with \"GGUF\")", path)
	}
	return fmt.Errorf("model %q is not a model: pass an HF model directory (config.json, safetensors, tokenizer files) or a .gguf file", path)
}

// looksLikeRepoID reports whether path has the "owner/name" shape of a
// Hub id and is not written as a local path.
func looksLikeRepoID(path string) bool {
	if strings.HasPrefix(path, ".") || strings.HasPrefix(path, "/") || strings.HasPrefix(path, "~") {
		return false
	}
	owner, name, ok := strings.Cut(path, "/")
	return ok && owner != "" && name != "" && !strings.Contains(name, "/") && filepath.Ext(name) != ".gguf"
}
