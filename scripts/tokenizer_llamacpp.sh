#!/usr/bin/env bash
# Compares ragtune's R1 tokenizer with llama.cpp's on 1 MB of mixed
# Chinese/English text: writes a vocabulary-only GGUF from our
# GGUFMetadata, tokenizes with llama.cpp (node-llama-cpp 3.21.1) and with
# ragtune, checks the ids are identical and prints both throughputs.
#
#   bash scripts/tokenizer_llamacpp.sh
#
# LLAMA_NODE_MODULES: a node_modules holding node-llama-cpp (default
# /work/oracle/node_modules; create one with
# `npm i --omit=optional node-llama-cpp@3.21.1 @node-llama-cpp/linux-x64@3.21.1`).
# QWEN_TOKENIZER: the Qwen2.5 tokenizer.json (default ../shared/data/qwen2.5-tokenizer/tokenizer.json).
set -euo pipefail
cd "$(dirname "$0")/.."
tok="${QWEN_TOKENIZER:-../shared/data/qwen2.5-tokenizer/tokenizer.json}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
go run ./scripts/tokenizer_oracles write "$work" "$tok"
node scripts/tokenizer_llamacpp.mjs "$work"
go run ./scripts/tokenizer_oracles check "$work" "$tok"
