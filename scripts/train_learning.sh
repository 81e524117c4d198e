#!/bin/sh
# Learning check for docs/BENCHMARKS.md (## Fine-tuning): train the tiny
# random model on the bilingual Debian FAQ pairs (../shared/data/debian-faq)
# in full and LoRA mode and print training and held-out loss/perplexity.
# Usage: scripts/train_learning.sh [workdir]   (from the repository root)
set -eu
W=${1:-/tmp/ragtune-train-learning}
DATA=${DATA:-../shared/data/debian-faq/pairs.json}
rm -rf "$W" && mkdir -p "$W"
go build -o "$W/ragtune" ./cmd/ragtune
"$W/ragtune" model init --out "$W/tiny" --preset tiny --seed 1
for mode in full lora; do
  "$W/ragtune" train --model "$W/tiny" --data "$DATA" --chat-template r1 --out "$W/out-$mode" \
    --mode $mode --epochs 3 --batch 4 --max-seq 256 --lr ${LR:-3e-3} --warmup 10 --schedule cosine \
    --lora-r 16 --lora-alpha 32 --eval-every 25 --val-split 0.1 --seed 1 --threads 2 2>"$W/$mode.err" | tee "$W/$mode.out"
  grep -h "validation loss" "$W/$mode.err" | tail -n 100 | sed "s/^/$mode: /"
done
