package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ragtune/internal/bytesize"
	"ragtune/internal/cli"
	"ragtune/internal/plural"
)

// ReadTexts returns the texts of every input — a .txt/.md/.json/.jsonl
// file, or a folder searched recursively for such files (hidden entries
// skipped) — for training a tokenizer. Each document or chat turn
// (content and reasoning) is a text of its own, so no merge spans two of
// them, and files are read with ReadFile, so the tokenizer sees the forms
// 'ragtune train' accepts. Skipped rows and files of other types are
// reported on log, with the totals read.
func ReadTexts(inputs []string, skipBad bool, log io.Writer) ([]string, error) {
	var files []string
	otherTypes := 0
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		if !st.IsDir() {
			if !isTextsInput(in) {
				return nil, cli.Usagef("--data %s: not a .txt, .md, .json or .jsonl file", in)
			}
			files = append(files, in)
			continue
		}
		found := 0
		// WalkDir visits entries in lexical order, so the file list (and
		// the progress it prints) is the same on every run.
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != in && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if !isTextsInput(p) {
				otherTypes++
				return nil
			}
			files = append(files, p)
			found++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", in, err)
		}
		if found == 0 {
			return nil, fmt.Errorf("--data %s: the folder holds no .txt, .md, .json or .jsonl files", in)
		}
	}

	var texts []string
	var size int64
	add := func(s string) {
		if strings.TrimSpace(s) != "" {
			texts = append(texts, s)
			size += int64(len(s))
		}
	}
	for _, f := range files {
		exs, st, err := ReadFile(f, skipBad)
		if err != nil {
			return nil, fmt.Errorf("train tokenizer: %w", err)
		}
		if st.Skipped > 0 {
			fmt.Fprintf(log, "%s: skipped %d malformed rows of %d (first: %s)\n", f, st.Skipped, st.Rows, st.FirstSkip)
		}
		for _, ex := range exs {
			add(ex.Text)
			for _, m := range ex.Messages {
				add(m.Content)
				add(m.ReasoningContent)
			}
		}
	}
	if len(texts) == 0 {
		return nil, errors.New("train tokenizer: the inputs hold no text")
	}
	fmt.Fprintf(log, "read %s (%s) from %s", plural.Count(len(texts), "text"), bytesize.Format(size), plural.Count(len(files), "file"))
	if otherTypes > 0 {
		fmt.Fprintf(log, "; skipped %s of other types", plural.Count(otherTypes, "file"))
	}
	fmt.Fprintln(log)
	return texts, nil
}

// isTextsInput reports whether path has a type ReadTexts reads.
func isTextsInput(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".jsonl":
		return true
	}
	return IsTextFile(path)
}
