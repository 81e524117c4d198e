#!/usr/bin/env bash
# Load test of the HTTP server on loopback over the tiny model: 8 or 16
# concurrent clients, 1/2/4 engine slots, bounded to 240 requests or 20 s
# per configuration, with document uploads running alongside. Prints one
# line per configuration (the figures in docs/BENCHMARKS.md, ## Serving).
#
#   scripts/serve_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
nproc_=$(nproc 2>/dev/null || echo "?")
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(go version | awk '{print $3}'), ${nproc_} CPUs, load $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
RAGTUNE_LOAD_FULL=1 go test -count=1 -run '^TestLoad$' -v ./server/ | grep -o 'clients=.*'
