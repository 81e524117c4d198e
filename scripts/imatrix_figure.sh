#!/bin/sh
# The importance-matrix figure of docs/BENCHMARKS.md ("K-quants" →
# "Domain-calibrated quantization"): a small model pre-trained from scratch
# on medical text as `ragtune demo` pre-trains its model (own BPE
# vocabulary, full-parameter training), then quantized to Q2_K and Q3_K_M
# with and without an importance matrix collected on other text of the
# same domain, each scored on held-out text of that domain.
#
# The text is MedQuAD's NIDDK answers (../shared/data/medquad/niddk_beir,
# CC BY 4.0): of the 1,192 answers, every tenth (i % 10 == 0) is held out
# for perplexity, those with i % 10 == 5 are the calibration text, the
# rest pre-train the model; each part is capped so the run takes a few
# minutes on 2 cores. Widths are multiples of 256 (hidden 256, MLP 512) so
# the K-quant block types apply rather than their 32-value fallbacks.
#
#     go build -o /tmp/ragtune ./cmd/ragtune
#     RAGTUNE=/tmp/ragtune sh scripts/imatrix_figure.sh /tmp/imatrix-figure
#     RAGTUNE=/tmp/ragtune LAYERS=4 FFN=768 sh scripts/imatrix_figure.sh /tmp/imatrix-figure-4l
set -eu
RAGTUNE=${RAGTUNE:-ragtune}
DATA=${DATA:-../shared/data/medquad/niddk_beir/corpus.jsonl}
LAYERS=${LAYERS:-2}
FFN=${FFN:-512}
EPOCHS=${EPOCHS:-8}
W=${1:?usage: imatrix_figure.sh WORKDIR}
mkdir -p "$W"

python3 - "$DATA" "$W" <<'EOF'
import json, re, sys
src, w = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(src, encoding="utf-8")]
text = lambda r: re.sub(r"\s*\n\s*", "\n", r["text"]).strip()
parts = {"pretrain": [], "calib": [], "heldout": []}
caps = {"pretrain": 150_000, "calib": 40_000, "heldout": 20_000}
for i, r in enumerate(rows):
    p = "heldout" if i % 10 == 0 else "calib" if i % 10 == 5 else "pretrain"
    if sum(len(t) for t in parts[p]) < caps[p]:
        parts[p].append(text(r))
with open(f"{w}/pretrain.jsonl", "w", encoding="utf-8") as f:
    for t in parts["pretrain"]:
        f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
for p in ("calib", "heldout"):
    with open(f"{w}/{p}.txt", "w", encoding="utf-8") as f:
        f.write("\n\n".join(parts[p]) + "\n")
print({p: (len(v), sum(len(t) for t in v)) for p, v in parts.items()})
EOF

"$RAGTUNE" model train-tokenizer --data "$W/pretrain.jsonl" --vocab 1024 --out "$W/tokenizer"
"$RAGTUNE" model init --preset tiny --hidden-size 256 --intermediate-size "$FFN" --layers "$LAYERS" --heads 4 --kv-heads 2 \
	--max-position 1024 --tokenizer "$W/tokenizer" --seed 42 --out "$W/init"
"$RAGTUNE" train --model "$W/init" --data "$W/pretrain.jsonl" --out "$W/base" --mode full --epochs "$EPOCHS" --batch 4 \
	--max-seq 128 --lr 2e-3 --warmup 10 --schedule cosine --val-split 0 --clip 1 --seed 42

for t in q2_k q3_k_m; do
	"$RAGTUNE" quantize --model "$W/base" --type $t --out "$W/base-$t-imatrix.gguf" --force \
		--imatrix-data "$W/calib.txt" --imatrix-ctx 128 --imatrix-out "$W/calib.imatrix" \
		--ppl-file "$W/heldout.txt" --ppl-window 128
done
