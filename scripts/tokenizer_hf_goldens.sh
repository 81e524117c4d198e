#!/usr/bin/env bash
# Regenerates tokenizer/testdata/hf_reference.json: ragtune writes the R1
# tokenizer (R1FromQwen of the shared Qwen2.5 tokenizer.json) as
# tokenizer.json + tokenizer_config.json; Hugging Face's tokenizers.js
# (@huggingface/tokenizers 0.2.0, installed into a scratch folder) loads
# those files and encodes ~300 test strings with and without BOS.
# tokenizer's TestHFReference compares ragtune's encodings with them.
#
#   bash scripts/tokenizer_hf_goldens.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tok="${QWEN_TOKENIZER:-../shared/data/qwen2.5-tokenizer/tokenizer.json}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -z "${HF_NODE_MODULES:-}" ]; then
	(cd "$work" && npm init -y >/dev/null && npm i --silent @huggingface/tokenizers@0.2.0 >/dev/null)
	HF_NODE_MODULES="$work/node_modules"
fi
mkdir -p "$work/r1"
go run ./scripts/tokenizer_oracles hf "$work/r1" "$tok"
HF_NODE_MODULES="$HF_NODE_MODULES" node scripts/tokenizer_hf_goldens.mjs "$work/r1"
