#!/usr/bin/env bash
# Times `ragtune demo` end to end and prints its summary with the wall time and
# peak memory, the figures quoted in docs/guide.md section 0.
#
#   bash scripts/demo_time.sh [--quick] [--seed N]
#
# Needs GNU time (/usr/bin/time, Debian package "time") for the peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/ragtune
work=$(mktemp -d)/ragtune-demo
go build -o "$bin" ./cmd/ragtune
/usr/bin/time -v "$bin" demo --workdir "$work" "$@" 2> "$work.log" | sed -n '/══/,$p'
grep -E 'Elapsed \(wall clock\)|Maximum resident set size' "$work.log"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); artifacts in $work"
