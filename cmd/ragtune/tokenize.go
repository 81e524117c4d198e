package main

import (
	"fmt"
	"io"
	"os"

	"ragtune/tokenizer"
)

func init() {
	register(&command{name: "tokenize", summary: "show the tokens of a text (BPE or WordPiece)", run: func(args []string) error {
		return runTokenize(args, os.Stdin, os.Stdout, os.Stderr)
	}})
}

const tokenizeHelp = `
Tokenizes TEXT, or all of standard input when no TEXT is given (read
byte for byte: nothing is trimmed, a trailing newline is a token too), and
prints one token per line: its id and its text, quoted, with bytes that
are not complete UTF-8 shown as \x escapes. With --ids it prints only the
ids, space-separated, on one line.

--tokenizer takes an HF tokenizer.json (byte-level BPE or WordPiece), a
model directory holding one (its tokenizer_config.json decides BOS), a
BERT vocab.txt, or a .gguf file (its tokenizer.ggml.* vocabulary). Without
--tokenizer, ragtune's built-in byte-level R1 vocabulary is used: one token
per byte plus R1's seven special tokens (<｜begin▁of▁sentence｜> 259,
<think> 261, ...), the vocabulary of the models 'ragtune model init' makes.

Examples:
  ragtune tokenize --tokenizer ~/models/DeepSeek-R1-Distill-Qwen-1.5B '你好 <think>'
  echo 'Hello world' | ragtune tokenize --tokenizer tokenizer.json --ids
`

func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", "[--tokenizer FILE|DIR] [--add-special] [--ids] [TEXT]", tokenizeHelp)
	path := fs.String("tokenizer", "", "tokenizer `FILE`: tokenizer.json, model directory, vocab.txt or .gguf (default: built-in byte-level R1 vocabulary)")
	addSpecial := fs.Bool("add-special", false, "add the special tokens the tokenizer's configuration asks for (BOS for R1-Distill, [CLS]/[SEP] for BERT)")
	idsOnly := fs.Bool("ids", false, "print only the ids, space-separated on one line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErrorf("tokenize takes one TEXT argument (quote it), got %d; or pipe text on standard input", fs.NArg())
	}
	tok, err := openTokenizer(*path)
	if err != nil {
		return err
	}
	var text string
	if fs.NArg() == 1 {
		text = fs.Arg(0)
	} else {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		text = string(data)
	}
	ids := tok.Encode(text, *addSpecial)
	if *idsOnly {
		return tokenizer.WriteIDs(stdout, ids)
	}
	if err := tokenizer.WriteTokenTable(stdout, tok, ids); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d tokens, %d bytes\n", len(ids), len(text))
	return nil
}

// openTokenizer loads the tokenizer named by --tokenizer (tokenizer.LoadAny
// tells the kinds apart), or the built-in byte-level R1 vocabulary.
func openTokenizer(path string) (tokenizer.Tokenizer, error) {
	if path == "" {
		return tokenizer.ByteLevelR1(), nil
	}
	return tokenizer.LoadAny(path)
}
