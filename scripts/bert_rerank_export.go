//go:build ignore

// bert_rerank_export writes the tiny random BERT cross-encoder that
// scripts/bert_rerank_reference.py scores (bert.TinyConfig, seed
// bert.TinySeed, bge vocabulary, one label) and pairs.json: the token ids
// and token types of the (query, passage) pairs TestCrossEncoderTorchGolden
// in model/bert checks.
//
//	go run scripts/bert_rerank_export.go OUTDIR
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"ragtune/model/bert"
)

// Pairs mixes Chinese, English, digits and an empty passage.
var pairs = [][2]string{
	{"什么是灾难性遗忘？", "灾难性遗忘是指模型在学习新任务后忘记旧任务的现象。"},
	{"什么是灾难性遗忘？", "今天天气很好，我们去公园散步。"},
	{"How is acromegaly treated?", "Acromegaly is treated with surgery, medication and radiation therapy."},
	{"How is acromegaly treated?", ""},
	{"BM25 的 k1 参数", "k1 controls term-frequency saturation; 常用值 1.2。"},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/bert_rerank_export.go OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "bert_rerank_export:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	vocab, err := bert.BGEVocab("../shared/data/tokenizer-tests/ggml-vocab-bert-bge.gguf")
	if err != nil {
		return err
	}
	dir := filepath.Join(out, "tiny-rerank")
	if err := bert.InitCrossEncoder(dir, bert.TinyConfig, bert.TinySeed, vocab, 1); err != nil {
		return err
	}
	m, err := bert.Load(dir)
	if err != nil {
		return err
	}
	type pair struct {
		Query   string `json:"query"`
		Passage string `json:"passage"`
		IDs     []int  `json:"ids"`
		Types   []int  `json:"types"`
	}
	var ps []pair
	for _, p := range pairs {
		ids, types := m.EncodePair(p[0], p[1])
		ps = append(ps, pair{p[0], p[1], ids, types})
	}
	data, err := json.MarshalIndent(ps, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "pairs.json"), data, 0o644)
}
