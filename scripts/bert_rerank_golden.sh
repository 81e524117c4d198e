#!/bin/sh
# Golden for TestCrossEncoderTorchGolden (model/bert): writes the tiny random
# BERT cross-encoder and its pairs, and records the PyTorch reference's
# logits (Debian python3-torch under /usr/bin/python3).
#
#   sh scripts/bert_rerank_golden.sh      (from the repository root)
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run scripts/bert_rerank_export.go "$tmp"
/usr/bin/python3 scripts/bert_rerank_reference.py "$tmp/tiny-rerank" "$tmp/pairs.json" > model/bert/testdata/torch_rerank_tiny.json
