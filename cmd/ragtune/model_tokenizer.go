package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ragtune/llm/chat"
	"ragtune/tokenizer"
	"ragtune/train/data"
)

func init() {
	registerSub("model", "train-tokenizer", "train a byte-level BPE tokenizer with R1's special tokens on your texts", runModelTrainTokenizer)
}

const trainTokenizerDescription = `
Learn a byte-level BPE vocabulary from your own texts and write it as
tokenizer.json and tokenizer_config.json into --out: the files
'ragtune model init --tokenizer DIR' puts into a new model, and that every
command loading a model reads. This is the first step of pre-training a
small model from scratch; fine-tuning a published model keeps its tokenizer.

--data names a file or a folder and may be repeated. A .txt or .md file is
one text. A .json or .jsonl file is read as 'ragtune train' reads it: rows
with a "text" field give that text; chat rows (alpaca instruction/input/
output, messages or conversations, question/answer, medical-o1) give the
content of each turn. A folder is searched recursively for such files;
hidden files and other types are skipped.

Texts are normalized (NFC) and split like DeepSeek-R1's tokenizer splits
them (the Qwen2 pre-tokenizer); then the most frequent pair of adjacent
symbols is merged into a new token, again and again, until the vocabulary
has --vocab tokens or no pair occurs twice. Ids 0-255 are the bytes, so any
text encodes. By default R1's seven added tokens (<｜end▁of▁sentence｜>,
<｜User｜>, <｜Assistant｜>, <｜begin▁of▁sentence｜>, <|EOT|>, <think>,
</think>) take ids 256-262 and R1's chat template is written, so a model
made with the vocabulary uses R1's conversation format. Training is
deterministic: the same texts give the same vocabulary, in any order.

Examples:
  ragtune model train-tokenizer --data notes/ --vocab 8000 --out my-tok
  ragtune model train-tokenizer --data pretrain.jsonl --data qa.jsonl --vocab 1536 --out my-tok
  ragtune model init --preset tiny --hidden-size 128 --layers 3 --tokenizer my-tok --out my-model`

func runModelTrainTokenizer(args []string) error {
	fs := newFlagSet("model train-tokenizer", "--data PATH [--data PATH ...] --vocab N --out DIR [flags]", trainTokenizerDescription)
	var inputs stringList
	fs.Var(&inputs, "data", "a .txt/.md/.json/.jsonl file or a folder of them, `PATH` (repeatable)")
	vocab := fs.Int("vocab", 0, "vocabulary size to reach: 256 bytes + special tokens + learned merges (required)")
	out := fs.String("out", "", "output directory for tokenizer.json and tokenizer_config.json (created)")
	r1 := fs.Bool("r1-tokens", true, "add R1's special tokens and chat template (false: a bare byte-level BPE, which a model cannot chat with)")
	skipBad := fs.Bool("skip-bad", false, "skip malformed JSON/JSONL rows (counted) instead of failing")
	force := fs.Bool("force", false, "overwrite tokenizer files already in --out")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (use --data for input files; see 'ragtune model train-tokenizer --help')", fs.Arg(0))
	}
	if len(inputs) == 0 || *out == "" || *vocab == 0 {
		return usageErrorf("--data, --vocab and --out are required (see 'ragtune model train-tokenizer --help')")
	}
	var specials []tokenizer.AddedToken
	if *r1 {
		specials = tokenizer.R1SpecialTokens()
	}
	if minVocab := 256 + len(specials); *vocab < minVocab {
		return usageErrorf("--vocab %d is smaller than the 256 byte tokens plus %d special tokens (%d)", *vocab, len(specials), minVocab)
	}
	if !*force {
		for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
			if _, err := os.Stat(filepath.Join(*out, name)); err == nil {
				return usageErrorf("%s already holds %s: choose another --out or pass --force", *out, name)
			}
		}
	}

	start := time.Now()
	texts, err := data.ReadTexts(inputs, *skipBad, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "training up to %d tokens on %d texts...\n", *vocab, len(texts))
	template := ""
	if *r1 {
		template = chat.R1Template
	}
	tok, err := tokenizer.TrainToDir(*out, texts, *vocab, template, specials...)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d tokens (256 bytes, %d special, %d merges) in %.2fs\n",
		*out, tok.VocabSize(), len(specials), tok.NumMerges(), time.Since(start).Seconds())
	if tok.VocabSize() < *vocab {
		fmt.Fprintf(os.Stderr, "stopped below --vocab %d: no pair of adjacent symbols occurs twice any more (more text would give more merges)\n", *vocab)
	}
	return nil
}
