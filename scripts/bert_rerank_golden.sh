#!/bin/sh
# Goldens for TestCrossEncoderTorchGolden and TestXLMRTorchGolden
# (model/bert): writes the tiny random BERT cross-encoder and XLM-R
# encoder/cross-encoder with their inputs, and records the PyTorch
# reference's logits and embeddings (Debian python3-torch, /usr/bin/python3).
#
#   sh scripts/bert_rerank_golden.sh      (from the repository root)
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run scripts/bert_rerank_export.go "$tmp"
/usr/bin/python3 scripts/bert_rerank_reference.py "$tmp/tiny-rerank" "$tmp/pairs.json" > model/bert/testdata/torch_rerank_tiny.json
# XLM-RoBERTa (bge-m3 / bge-reranker layouts) on the Unigram test tokenizer.
mkdir "$tmp/x"
go run scripts/xlmr_export.go "$tmp/x"
/usr/bin/python3 scripts/bert_rerank_reference.py "$tmp/x/tiny-xlmr-rerank" "$tmp/x/pairs.json" "$tmp/x/tiny-xlmr" "$tmp/x/texts.json" > model/bert/testdata/torch_xlmr_tiny.json
