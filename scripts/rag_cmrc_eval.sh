#!/usr/bin/env bash
# Retrieval quality on the CMRC 2018 trial set (ANCHORS.md protocol): the
# baseline, our method, and the ablations reported in docs/BENCHMARKS.md
# (## Retrieval). Usage: scripts/rag_cmrc_eval.sh [path/to/cmrc2018_trial.json]
set -euo pipefail
cd "$(dirname "$0")/.."
F=${1:-../shared/data/cmrc2018/cmrc2018_trial.json}
go build -o /tmp/ragtune-cmrc ./cmd/ragtune
run() {
	printf '%-55s ' "$*"
	/tmp/ragtune-cmrc eval retrieval --cmrc "$F" --json "$@" | tr -d '\n ' ; echo
}
run --method baseline
run --method ours
run --method ours --doc-weight 0
run --method ours --title-context false
run --method baseline --tokens words
run --method ours --tokens words
run --method ours --k1 1.2 --b 0.75
run --method baseline --k1 1.2 --b 0.75
