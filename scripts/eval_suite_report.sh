#!/usr/bin/env bash
# Renders the evaluation and comparison reports of two tiny random models and
# screenshots them in headless Chromium, to look at the pages as a user would.
#
#   scripts/eval_suite_report.sh [OUT_DIR]     (default /tmp/ragtune-eval-report)
#
# Needs Debian's chromium (apt-get install -y chromium) and a CJK font
# (apt-get install -y fonts-wqy-microhei or fonts-noto-cjk) for the Chinese
# text. Writes OUT_DIR/{eval,compare}/report.{json,html} and OUT_DIR/*.png.
# The numbers of random models are meaningless; the page layout is the point.
# --no-think: a random model never closes the <think> block R1's template opens.
set -euo pipefail
out=${1:-/tmp/ragtune-eval-report}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
go build -C "$root" -o "$out/ragtune" ./cmd/ragtune
rt="$out/ragtune"
"$rt" model init --out "$out/tuned" --preset tiny --seed 1 --force >/dev/null
"$rt" model init --out "$out/base" --preset tiny --seed 2 --force >/dev/null
# A made-up loss curve, so the training chart has something to draw.
: >"$out/train_log.jsonl"
for i in 1 2 3 4 5 6 7 8; do
	printf '{"step":%d,"epoch":%s,"loss":%s,"val_loss":%s,"elapsed_s":%d}\n' "$((i * 5))" "0.$i" \
		"$(awk "BEGIN{print 3.2-0.25*$i}")" "$(awk "BEGIN{print 3.0-0.2*$i+0.03*$i*$i}")" "$i" >>"$out/train_log.jsonl"
done
"$rt" eval --model "$out/tuned" --base "$out/base" --suite all --limit 8 --max-tokens 24 --no-think \
	--train-log "$out/train_log.jsonl" --out "$out/eval"
"$rt" compare --base "$out/base" --tuned "$out/tuned" --limit 6 --max-tokens 16 --no-think --out "$out/compare"
for r in eval compare; do
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
		--user-data-dir="$(mktemp -d)" --window-size=1280,7000 --screenshot="$out/$r.png" \
		"file://$out/$r/report.html" 2>/dev/null
done
echo "screenshots: $out/eval.png $out/compare.png"
