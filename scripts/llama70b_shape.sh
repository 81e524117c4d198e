#!/bin/sh
# DeepSeek-R1-Distill-Llama-70B's tensor shapes (hidden 8192, MLP 28672,
# 64 heads over 8 KV heads, vocabulary 128256: the embedding and the head
# are 128256×8192 each) through init, convert, quantize, inspect, bench and
# run with 1 and 2 layers, with each step's peak resident memory
# (/usr/bin/time -v), and the 2-layer Q4_0 file against llama.cpp: its
# next-token probabilities and 32-token greedy continuations
# (scripts/qwen2_llamacpp.mjs golden, then TestLlamaCppGoldenFile).
# A full 80-layer BF16 70B is 141 GB; one layer is 1.71 GB, the embedding
# and head 2.1 GB each, so these runs need about 12 GB of disk at a time
# (the script deletes each file when the next steps no longer read it).
#
#   sh scripts/llama70b_shape.sh [WORKDIR]     (from the repository root)
#
# RAGTUNE_NODE_MODULES points at node-llama-cpp (default
# /work/scratch/oracle/node_modules); without node or it, the llama.cpp
# comparison is skipped. WORKDIR (default a new temp dir) is removed at the
# end unless KEEP=1.
set -eu
work=${1:-$(mktemp -d)}
mkdir -p "$work"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
R="$work/ragtune"
go build -o "$R" ./cmd/ragtune
nm=${RAGTUNE_NODE_MODULES:-/work/scratch/oracle/node_modules}

# step NAME CMD...: runs CMD under /usr/bin/time -v; prints its peak RSS
# and wall time, and keeps its output in $work/NAME.{out,err}.
step() {
	name=$1
	shift
	/usr/bin/time -v "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		tail -20 "$work/$name.err"
		exit 1
	}
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.err")
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$name.err")
	printf '%-22s peak RSS %6d MiB   wall %s\n' "$name" $((rss / 1024)) "$wall"
}
size() { printf '%-22s %6d MiB   %s\n' "" $(($(du -sb "$1" | cut -f1) / 1048576)) "$(basename "$1")"; }
sum() { printf '%-22s sha256 %s\n' "" "$(sha256sum "$1" | cut -c1-16)"; }

preset="--preset r1-distill-llama-70b"

# One layer: init, HF → GGUF (BF16 as stored), inspect, quantize.
step init-1L "$R" model init $preset --layers 1 --out "$work/l1"
size "$work/l1"
step convert-hf-gguf-1L "$R" model convert --model "$work/l1" --out "$work/l1.gguf"
size "$work/l1.gguf"
step inspect-gguf-1L "$R" model inspect "$work/l1.gguf" --metadata=false
rm -f "$work/l1.gguf"
step quantize-q4_0-1L "$R" quantize --model "$work/l1" --type q4_0 --out "$work/l1-q4_0.gguf"
size "$work/l1-q4_0.gguf"
sum "$work/l1-q4_0.gguf"
rm -rf "$work/l1" "$work/l1-q4_0.gguf"

# Two layers: the same steps cost the same memory.
step init-2L "$R" model init $preset --layers 2 --out "$work/l2"
size "$work/l2"
step inspect-hf-2L "$R" model inspect "$work/l2" --metadata=false
step quantize-q4_0-2L "$R" quantize --model "$work/l2" --type q4_0 --out "$work/l2-q4_0.gguf"
size "$work/l2-q4_0.gguf"
sum "$work/l2-q4_0.gguf"
step quantize-q4_k_m-2L "$R" quantize --model "$work/l2" --type q4_k_m --out "$work/l2-q4_k_m.gguf"
size "$work/l2-q4_k_m.gguf"
rm -rf "$work/l2"
step bench-q4_0-2L "$R" bench --model "$work/l2-q4_0.gguf" --prompt 8 --gen 4
grep -E 'prefill|decode' "$work/bench-q4_0-2L.out" || cat "$work/bench-q4_0-2L.out"
step bench-q4_k_m-2L "$R" bench --model "$work/l2-q4_k_m.gguf" --prompt 8 --gen 4
grep -E 'prefill|decode' "$work/bench-q4_k_m-2L.out" || cat "$work/bench-q4_k_m-2L.out"
rm -f "$work/l2-q4_k_m.gguf"
step run-q4_0-2L "$R" run --model "$work/l2-q4_0.gguf" --raw --prompt "The quick brown fox" --temperature 0 --max-tokens 8
# GGUF → HF: the Q4_0 blocks expanded to BF16, tensor by tensor.
step convert-gguf-hf-2L "$R" model convert --model "$work/l2-q4_0.gguf" --out "$work/l2-back" --type bf16
size "$work/l2-back"
rm -rf "$work/l2-back"

if command -v node >/dev/null && [ -d "$nm/node-llama-cpp" ]; then
	step llamacpp-golden-2L env RAGTUNE_NODE_MODULES="$nm" node scripts/qwen2_llamacpp.mjs golden \
		--model "$work/l2-q4_0.gguf" --out "$work/l2-q4_0-llamacpp.json"
	RAGTUNE_LLAMACPP_GGUF="$work/l2-q4_0.gguf" RAGTUNE_LLAMACPP_GOLDEN="$work/l2-q4_0-llamacpp.json" \
		go test -count=1 -run TestLlamaCppGoldenFile -v ./model/qwen2 | grep -E 'llama|prob|greedy|tie|PASS|FAIL|ok'
else
	echo "node or $nm/node-llama-cpp absent: llama.cpp comparison skipped"
fi
