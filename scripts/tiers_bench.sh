#!/usr/bin/env bash
# Case lists for scripts/bench_rounds.py: the same-run tables of
# docs/BENCHMARKS.md against llama.cpp built from source (ANCHORS.md).
#
#   RAGTUNE=/tmp/ragtune LLAMA_BIN=llama.cpp/build/bin [LLAMA_AVX2_BIN=llama.cpp/build-avx2/bin] \
#     [RAGTUNE_BEFORE=/tmp/ragtune-old] scripts/tiers_bench.sh tiers|batch|long DIR [ROUNDS]
#
# DIR holds r15-q8_0.gguf and r15-q4_0.gguf (ragtune model init --preset
# r1-distill-qwen-1.5b, ragtune quantize --type q8_0|q4_0).
#   tiers: prefill 128 / decode 32 on AVX-512, AVX-VNNI and AVX2 (GODEBUG
#          masks) against the native and the AVX2-only llama-bench (issue 16);
#   batch: ragtune bench --batch 1|2|4|8 against llama-batched-bench (issue 15);
#   long:  prefill N and decode at depth N, N = 512, 2048, 4096 (issue 21;
#          LONG_N="4096 8192" picks others), RAGTUNE_BEFORE beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: tiers_bench.sh tiers|batch|long DIR [ROUNDS]}
dir=${2:?model directory}
rounds=${3:-3}
rt=${RAGTUNE:?set RAGTUNE to a ragtune binary}
lb=${LLAMA_BIN:?set LLAMA_BIN to llama.cpp build/bin}
m512=cpu.avx512f=off,cpu.avx512bw=off,cpu.avx512vl=off,cpu.avx512dq=off,cpu.avx512vnni=off
cases=$(mktemp)
trap 'rm -f "$cases"' EXIT
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$cases"; }
case $what in
tiers)
  for f in q8_0 q4_0; do
    F=$dir/r15-$f.gguf b="--model $F --threads 2 --prompt 128 --gen 32 --json"
    row "$f ragtune native" rt "" "$rt bench $b"
    row "$f llama.cpp native" lb "" "$lb/llama-bench -m $F -t 2 -p 128 -n 32 -r 1 -o json"
    [ -n "${RAGTUNE_BEFORE:-}" ] && row "$f ragtune-before native" rt "" "$RAGTUNE_BEFORE bench $b"
    row "$f ragtune avx-vnni" rt "GODEBUG=$m512" "$rt bench $b"
    if [ -n "${LLAMA_AVX2_BIN:-}" ]; then
      row "$f llama.cpp avx2" lb "" "$LLAMA_AVX2_BIN/llama-bench -m $F -t 2 -p 128 -n 32 -r 1 -o json"
    fi
    row "$f ragtune avx2" rt "GODEBUG=$m512,cpu.avxvnni=off" "$rt bench $b"
  done ;;
batch)
  for f in q4_0 q8_0; do
    F=$dir/r15-$f.gguf
    for n in 1 2 4 8; do
      row "$f ragtune batch $n" rt "" "$rt bench --model $F --threads 2 --batch $n --prompt 128 --gen 32 --json"
    done
    row "$f llama-batched-bench" bb "" "$lb/llama-batched-bench -m $F -t 2 -c 4096 -npp 128 -ntg 32 -npl 1,2,4,8"
  done ;;
long)
  F=$dir/r15-q4_0.gguf
  for n in ${LONG_N:-512 2048 4096}; do
    row "ragtune N=$n" rt "" "$rt bench --model $F --threads 2 --prompt $n --gen 32 --json"
    [ -n "${RAGTUNE_BEFORE:-}" ] && row "ragtune-before N=$n" rt "" "$RAGTUNE_BEFORE bench --model $F --threads 2 --prompt $n --gen 32 --json"
    row "llama.cpp N=$n" bb "" "$lb/llama-batched-bench -m $F -t 2 -c $((n + 64)) -b 2048 -ub 512 -npp $n -ntg 32 -npl 1"
  done ;;
*) echo "unknown table $what: tiers, batch or long" >&2; exit 2 ;;
esac
python3 scripts/bench_rounds.py "$rounds" "/tmp/bench-$what.json" <"$cases"
