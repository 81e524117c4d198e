// Package demo holds the project's own demo data — a small bilingual
// knowledge base about how large models are pre-trained, fine-tuned,
// quantized, evaluated and augmented with retrieval, its question/answer
// pairs, and a general-knowledge set for measuring forgetting — and the
// files `ragtune demo` starts from (WriteFiles: the corpus, a seeded
// train/test split of the pairs, the held-out and pre-training text) —
// and Run, the pipeline: each step is a ragtune command line run through
// the commands' own code (Options.Command), then retrieval is checked and
// the reports merged into one summary. Every text here was written for
// ragtune; nothing is downloaded.
package demo

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed corpus/*.md general/*.md qa.jsonl general.jsonl
var files embed.FS

// Document is one embedded source text.
type Document struct {
	Name string // file name, used as the citation source
	Text string
}

// QA is one question/answer pair in alpaca form; Source names the corpus
// document that holds the answer, so citations can be checked.
type QA struct {
	Instruction string `json:"instruction"`
	Input       string `json:"input"`
	Output      string `json:"output"`
	Source      string `json:"source,omitempty"`
}

// Corpus returns the knowledge-base documents, sorted by name.
func Corpus() []Document { return readDir("corpus") }

// GeneralText returns the general-knowledge text mixed into pre-training
// (and not into the knowledge base), so forgetting can be measured later.
func GeneralText() []Document { return readDir("general") }

// QAPairs returns the domain question/answer pairs.
func QAPairs() []QA { return readQA("qa.jsonl") }

// GeneralQA returns the general-knowledge questions for the forgetting suite.
func GeneralQA() []QA { return readQA("general.jsonl") }

// FS exposes the embedded files, e.g. to write them out for `ragtune ingest`.
func FS() fs.FS { return files }

func readDir(dir string) []Document {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		panic(fmt.Sprintf("demo: embedded dir %s: %v", dir, err)) // embedded at build time: cannot fail at run time
	}
	var docs []Document
	for _, e := range entries {
		b, err := fs.ReadFile(files, dir+"/"+e.Name())
		if err != nil {
			panic(fmt.Sprintf("demo: embedded file %s: %v", e.Name(), err))
		}
		docs = append(docs, Document{Name: e.Name(), Text: string(b)})
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name })
	return docs
}

func readQA(name string) []QA {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		panic(fmt.Sprintf("demo: embedded file %s: %v", name, err))
	}
	var out []QA
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var q QA
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			panic(fmt.Sprintf("demo: %s:%d: %v", name, line, err))
		}
		out = append(out, q)
	}
	return out
}
