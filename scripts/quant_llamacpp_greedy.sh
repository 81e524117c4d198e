#!/bin/sh
# Goldens for TestQuantizedRunsLikeLlamaCpp: llama.cpp (node-llama-cpp, via
# scripts/qwen2_llamacpp.mjs golden) evaluates the tiny model's Q8_0 and Q4_0
# files written by `ragtune quantize`, and records per prompt the token ids,
# next-token top-50 probabilities and the 32-token greedy continuation.
#
#   sh scripts/quant_llamacpp_greedy.sh      (from the repository root)
#
# RAGTUNE_NODE_MODULES points at node-llama-cpp (default /work/oracle/node_modules).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ragtune" ./cmd/ragtune
"$tmp/ragtune" model init --out "$tmp/tiny" --preset tiny
for q in q8_0 q4_0; do
	"$tmp/ragtune" quantize --model "$tmp/tiny" --type $q --out "$tmp/tiny-$q.gguf"
	node scripts/qwen2_llamacpp.mjs golden --model "$tmp/tiny-$q.gguf" --out cmd/ragtune/testdata/llamacpp_tiny_$q.json
done
