//go:build ignore

// unigram_tokenizer writes tokenizer/testdata/unigram_tiny/tokenizer.json:
// a small SentencePiece-Unigram tokenizer.json in the XLM-RoBERTa layout
// (Precompiled normalizer, Metaspace, RobertaProcessing) whose vocabulary
// and scores come from the texts in scripts/unigram_texts.json, for
// TestUnigramGolden. The precompiled charsmap (built with
// tokenizer.BuildCharsmap) holds what transformers.js's Precompiled
// normalizer applies in place of a charsmap: control characters removed,
// white-space characters made spaces, and NFKC for every other character
// of the texts that NFKC changes, so the reference and a real charsmap
// reader agree on these texts. Some characters are left out of the
// vocabulary on purpose (they encode as <unk>).
//
//	go run scripts/unigram_tokenizer.go
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"ragtune/tokenizer"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "unigram_tokenizer:", err)
		os.Exit(1)
	}
}

// score gives a piece a deterministic score in (-12, -4): longer pieces
// are likelier per character, with hash noise so ties are rare.
func score(p string) float64 {
	h := fnv.New32a()
	h.Write([]byte(p))
	noise := float64(h.Sum32()%1000) / 1000 * 3
	n := len([]rune(p))
	return -4 - noise - 5/float64(n)
}

func run() error {
	data, err := os.ReadFile("scripts/unigram_texts.json")
	if err != nil {
		return err
	}
	var texts []string
	if err := json.Unmarshal(data, &texts); err != nil {
		return err
	}
	// What transformers.js's Precompiled does, as a character map.
	cm := map[string]string{}
	for r := rune(1); r <= 0x9f; r++ {
		if r <= 0x08 || r == 0x0b || (r >= 0x0e && r <= 0x1f) || r == 0x7f || r == 0x8f || r == 0x9f {
			cm[string(r)] = ""
		}
	}
	for _, r := range []rune{0x09, 0x0a, 0x0c, 0x0d, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x2581, 0x3000, 0xfeff, 0xfffd} {
		cm[string(r)] = " "
	}
	for r := rune(0x2000); r <= 0x200f; r++ {
		cm[string(r)] = " "
	}
	leaveOut := map[rune]bool{'😀': true, '鑫': true, 'ß': true}
	chars := map[string]bool{}
	words := map[string]bool{}
	for _, t := range texts {
		for _, r := range t {
			if _, ok := cm[string(r)]; ok {
				continue
			}
			if n := norm.NFKC.String(string(r)); n != string(r) {
				cm[string(r)] = n
			}
		}
		nt := norm.NFKC.String(t)
		for _, r := range nt {
			if !leaveOut[r] && !unicode.IsSpace(r) && !unicode.IsControl(r) {
				chars[string(r)] = true
			}
		}
		for _, w := range strings.Fields(nt) {
			rs := []rune(w)
			if len(rs) >= 2 && len(rs) <= 6 {
				words["▁"+w] = true
			}
			// Prefixes and suffixes of words, and Han bigrams, so the
			// lattice has competing paths.
			for k := 2; k < len(rs) && k <= 4; k++ {
				words[string(rs[:k])] = true
				words[string(rs[len(rs)-k:])] = true
			}
			for k := 0; k+1 < len(rs); k++ {
				if unicode.Is(unicode.Han, rs[k]) && unicode.Is(unicode.Han, rs[k+1]) {
					words[string(rs[k:k+2])] = true
				}
			}
		}
	}
	pieces := []string{"▁"}
	for c := range chars {
		pieces = append(pieces, c, "▁"+c)
	}
	for w := range words {
		if !strings.ContainsFunc(w, func(r rune) bool { return leaveOut[r] }) {
			pieces = append(pieces, w)
		}
	}
	sort.Strings(pieces)
	vocab := [][]any{{"<s>", 0.0}, {"<pad>", 0.0}, {"</s>", 0.0}, {"<unk>", 0.0}}
	seen := map[string]bool{}
	for _, p := range pieces {
		if !seen[p] {
			seen[p] = true
			vocab = append(vocab, []any{p, score(p)})
		}
	}
	blob, err := tokenizer.BuildCharsmap(cm)
	if err != nil {
		return err
	}
	tj := map[string]any{
		"version":    "1.0",
		"truncation": nil, "padding": nil,
		"added_tokens": []any{
			map[string]any{"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			map[string]any{"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			map[string]any{"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			map[string]any{"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Precompiled", "precompiled_charsmap": base64.StdEncoding.EncodeToString(blob)},
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "},
		}},
		"pre_tokenizer":  map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true, "prepend_scheme": "always", "split": true},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0}, "trim_offsets": true, "add_prefix_space": true},
		"decoder":        map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true, "prepend_scheme": "always", "split": true},
		"model":          map[string]any{"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": false},
	}
	out, err := json.Marshal(tj)
	if err != nil {
		return err
	}
	return os.WriteFile("tokenizer/testdata/unigram_tiny/tokenizer.json", append(out, '\n'), 0o644)
}
