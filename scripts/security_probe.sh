#!/usr/bin/env bash
# Replays issue 13's table against 'ragtune serve' on loopback over the
# tiny model and prints one PASS/FAIL line per row (scripts/security_probe.go
# says what each row does). Bounded: a few hundred requests, each wait
# capped; about a minute or two on 2 cores. The figures in docs/SECURITY.md
# come from it.
#
#   scripts/security_probe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/ragtune-probe-bin-XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/ragtune" ./cmd/ragtune
"$work/ragtune" model init --preset tiny --out "$work/tiny" >/dev/null 2>&1
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(go version | awk '{print $3}'), $(nproc 2>/dev/null || echo '?') CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
go run scripts/security_probe.go --bin "$work/ragtune" --model "$work/tiny" --repo .
