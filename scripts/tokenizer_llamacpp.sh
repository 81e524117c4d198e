#!/usr/bin/env bash
# Compares ragtune's R1 tokenizer with llama.cpp's on 1 MB of mixed
# Chinese/English text: writes a vocabulary-only GGUF from our
# GGUFMetadata, tokenizes with llama.cpp and with ragtune, checks the ids
# are identical and prints both throughputs.
#
#   LLAMA_TOKENIZE=~/llama.cpp/build/bin/llama-tokenize bash scripts/tokenizer_llamacpp.sh
#
# LLAMA_TOKENIZE: llama.cpp's llama-tokenize, built from source for this CPU
# (the speed peer: its CPU time on the text is the process's CPU time minus
# that of the same run on a one-byte file, which loads the same vocabulary;
# three rounds). Without it the ids come from node-llama-cpp's generic
# prebuilt library, which checks correctness but is no speed peer.
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
if [ -n "${LLAMA_TOKENIZE:-}" ]; then
  lt() { "$LLAMA_TOKENIZE" -m "$work/$1-vocab.gguf" -f "$2" --ids --no-bos --no-escape --no-parse-special --log-disable 2>/dev/null; }
  for v in r1 bytes trained; do lt "$v" "$work/mixed.txt" | tr -d '[],' > "$work/llamacpp-$v.ids"; done
  echo x > "$work/one.txt"
  bytes=$(wc -c < "$work/mixed.txt")
  for r in 1 2 3; do
    base=$( { /usr/bin/time -f '%U %S' bash -c "$(declare -f lt); LLAMA_TOKENIZE='$LLAMA_TOKENIZE' work='$work' lt r1 '$work/one.txt' >/dev/null"; } 2>&1 | tail -1)
    full=$( { /usr/bin/time -f '%U %S' bash -c "$(declare -f lt); LLAMA_TOKENIZE='$LLAMA_TOKENIZE' work='$work' lt r1 '$work/mixed.txt' >/dev/null"; } 2>&1 | tail -1)
    echo "$base $full" | awk -v b="$bytes" -v r="$r" '{cpu = ($3 + $4) - ($1 + $2); printf "llama.cpp (llama-tokenize) round %d: %.2f CPU-s for the text, %.2f MB/cpu-s\n", r, cpu, b / 1e6 / cpu}'
  done
else
  node scripts/tokenizer_llamacpp.mjs "$work"
fi
go run ./scripts/tokenizer_oracles check "$work" "$tok"
