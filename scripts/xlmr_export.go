//go:build ignore

// xlmr_export writes the tiny random XLM-RoBERTa models that
// scripts/bert_rerank_reference.py runs (TestXLMRTorchGolden in
// model/bert): bert.TinyXLMRConfig with seed bert.TinySeed and the
// Unigram tokenizer of tokenizer/testdata/unigram_tiny, once as an
// encoder (CLS pooling, bge-m3's dense layout) and once as a one-label
// cross-encoder (bge-reranker's layout), plus pairs.json and texts.json
// with the token ids our tokenizer gives.
//
//	go run scripts/xlmr_export.go OUTDIR
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"ragtune/model/bert"
)

var pairs = [][2]string{
	{"什么是灾难性遗忘？", "Catastrophic forgetting 是指模型在学习新任务后忘记旧任务。"},
	{"什么是灾难性遗忘？", "两个😀😀相邻"},
	{"bge-m3 支持 100+ 种语言", "检索增强生成（RAG）把知识库接到大模型上。"},
	{"a", ""},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/xlmr_export.go OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "xlmr_export:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	tok := "tokenizer/testdata/unigram_tiny/tokenizer.json"
	enc, ce := filepath.Join(out, "tiny-xlmr"), filepath.Join(out, "tiny-xlmr-rerank")
	if err := bert.InitXLMR(enc, bert.TinyXLMRConfig, bert.PoolCLS, bert.TinySeed, tok, 0); err != nil {
		return err
	}
	if err := bert.InitXLMR(ce, bert.TinyXLMRConfig, bert.PoolCLS, bert.TinySeed, tok, 1); err != nil {
		return err
	}
	m, err := bert.Load(ce)
	if err != nil {
		return err
	}
	type pair struct {
		Query   string `json:"query"`
		Passage string `json:"passage"`
		IDs     []int  `json:"ids"`
		Types   []int  `json:"types"`
	}
	type text struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	}
	var ps []pair
	var ts []text
	for _, p := range pairs {
		ids, types := m.EncodePair(p[0], p[1])
		ps = append(ps, pair{p[0], p[1], ids, types})
		ts = append(ts, text{p[1], m.Tokenize(p[1])})
	}
	for name, v := range map[string]any{"pairs.json": ps, "texts.json": ts} {
		data, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
