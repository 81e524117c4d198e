#!/bin/sh
# Goldens for TestKQuantRunsLikeLlamaCpp: llama.cpp (node-llama-cpp, via
# scripts/qwen2_llamacpp.mjs golden) evaluates K-quant files of a generated
# 8-layer model with 256-wide rows, written by `ragtune quantize` (whose
# tensors equal llama-quantize's, TestQuantizeKQuantMatchesLlamaCpp), and
# records per prompt the token ids, next-token top-50 probabilities and the
# 32-token greedy continuation.
#
#   sh scripts/kquant_llamacpp_greedy.sh      (from the repository root)
#
# RAGTUNE_NODE_MODULES points at node-llama-cpp (default /work/oracle/node_modules).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ragtune" ./cmd/ragtune
"$tmp/ragtune" model init --out "$tmp/m" --preset tiny --hidden-size 256 --intermediate-size 512 \
	--layers 8 --heads 4 --kv-heads 2 >/dev/null
for q in q4_k_m q6_k q2_k; do
	"$tmp/ragtune" quantize --model "$tmp/m" --type $q --out "$tmp/m-$q.gguf" >/dev/null
	node scripts/qwen2_llamacpp.mjs golden --model "$tmp/m-$q.gguf" --out cmd/ragtune/testdata/llamacpp_w256_$q.json
done
