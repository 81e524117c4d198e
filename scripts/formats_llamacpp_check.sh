#!/bin/sh
# Proves against llama.cpp that GGUF files from `ragtune model convert` load
# and that the llama q/k row permutation goes the right way:
#  1. a tiny Qwen2 model converted to GGUF loads and evaluates;
#  2. the same weights (q/k scaled ×40 so attention is far from uniform and
#     RoPE matters) written once as "qwen2" (NEOX rope, rows as in HF) and
#     once as "llama" (normal rope, rows permuted by ragtune) give the same
#     next-token probabilities in llama.cpp.
#
#   sh scripts/formats_llamacpp_check.sh        (from the repository root)
#
# Needs node and NODE_LLAMA_CPP_MODULES (default /work/oracle/node_modules,
# see scripts/formats_llamacpp_load.mjs); RAGTUNE=/path/to/ragtune to skip
# the build.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${RAGTUNE:-}" ]; then
	go build -o "$tmp/ragtune" ./cmd/ragtune
	RAGTUNE="$tmp/ragtune"
fi
load() { node scripts/formats_llamacpp_load.mjs "$1"; }

"$RAGTUNE" model init --preset tiny --seed 1 --out "$tmp/qwen2"
"$RAGTUNE" model convert --model "$tmp/qwen2" --out "$tmp/qwen2.gguf"
load "$tmp/qwen2.gguf"

cp -r "$tmp/qwen2" "$tmp/llama"
python3 - "$tmp/qwen2" "$tmp/llama" <<'PY'
import json, struct, sys
for d in sys.argv[1:]:
    p = d + "/model.safetensors"
    b = bytearray(open(p, "rb").read())
    (n,) = struct.unpack("<Q", b[:8])
    h = json.loads(b[8:8 + n])
    for k, v in h.items():
        if k.endswith(("q_proj.weight", "k_proj.weight")):
            a, e = v["data_offsets"]
            s = 8 + n
            vals = struct.unpack("<%df" % ((e - a) // 4), b[s + a:s + e])
            b[s + a:s + e] = struct.pack("<%df" % len(vals), *[x * 40 for x in vals])
    open(p, "wb").write(b)
c = json.load(open(sys.argv[2] + "/config.json"))
c.update(model_type="llama", architectures=["LlamaForCausalLM"], attention_bias=True)
json.dump(c, open(sys.argv[2] + "/config.json", "w"), indent=2)
PY
"$RAGTUNE" model convert --model "$tmp/qwen2" --out "$tmp/q.gguf"
"$RAGTUNE" model convert --model "$tmp/llama" --out "$tmp/l.gguf"
load "$tmp/q.gguf" | grep '^step' > "$tmp/q.txt"
load "$tmp/l.gguf" | grep '^step' > "$tmp/l.txt"
cat "$tmp/q.txt"
if diff "$tmp/q.txt" "$tmp/l.txt"; then
	echo "OK: qwen2 and permuted llama GGUFs agree in llama.cpp"
else
	echo "FAIL: llama permutation disagrees with llama.cpp" >&2
	exit 1
fi
