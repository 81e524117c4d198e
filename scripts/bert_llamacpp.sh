#!/bin/sh
# Goldens for TestLlamaCppGolden (model/bert): writes the tiny random BERT
# models (CLS and mean pooling, bge vocabulary from ../shared) and records
# llama.cpp's embeddings of them.
#
#   sh scripts/bert_llamacpp.sh      (from the repository root)
#
# RAGTUNE_NODE_MODULES points at node-llama-cpp (default /work/oracle/node_modules).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run scripts/bert_export.go "$tmp"
node scripts/bert_llamacpp.mjs model/bert/testdata/llamacpp_tiny.json "$tmp/tiny-cls.gguf" "$tmp/tiny-mean.gguf"
