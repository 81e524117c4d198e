//go:build ignore

// bert_export writes the tiny random BERT models that
// scripts/bert_llamacpp.mjs runs through llama.cpp: bert.TinyConfig with
// seed 1 and the bge vocabulary, once with CLS and once with mean pooling,
// as HF directories and GGUF files (the same models TestLlamaCppGolden in
// model/bert rebuilds).
//
//	go run scripts/bert_export.go OUTDIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"ragtune/model/bert"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/bert_export.go OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "bert_export:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	vocab, err := bert.BGEVocab("../shared/data/tokenizer-tests/ggml-vocab-bert-bge.gguf")
	if err != nil {
		return err
	}
	for _, pool := range []bert.Pooling{bert.PoolCLS, bert.PoolMean} {
		dir := filepath.Join(out, "tiny-"+pool.String())
		if err := bert.Init(dir, bert.TinyConfig, pool, bert.TinySeed, vocab); err != nil {
			return err
		}
		m, err := bert.Load(dir)
		if err != nil {
			return err
		}
		if err := m.WriteGGUF(dir+".gguf", "tiny-bert-"+pool.String()); err != nil {
			return err
		}
		fmt.Println(dir + ".gguf")
	}
	return nil
}
