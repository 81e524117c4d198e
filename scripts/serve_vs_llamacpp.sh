#!/usr/bin/env bash
# End-to-end serving throughput, ragtune serve against llama.cpp's
# llama-server on the same GGUF file, same client (serve_throughput.py):
# CLIENTS concurrent clients × REQUESTS chat requests × TOKENS tokens.
# Both servers get 2 threads and 8 slots with continuous batching.
#
#   LLAMA_SERVER=/path/to/llama-server scripts/serve_vs_llamacpp.sh FILE.gguf [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: serve_vs_llamacpp.sh FILE.gguf [ROUNDS]}
rounds=${2:-2}
clients=${CLIENTS:-8} requests=${REQUESTS:-2} tokens=${TOKENS:-32}
ls_bin=${LLAMA_SERVER:?set LLAMA_SERVER to llama.cpp\'s llama-server built from source}
go build -o /tmp/ragtune-serve-bench ./cmd/ragtune
wait_up() { for _ in $(seq 600); do curl -sf "$1/health" >/dev/null 2>&1 || curl -sf "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.5; done; echo "server at $1 did not start" >&2; return 1; }
port=18080
run_one() { # name cmd... (PORT in the command is replaced by a fresh port)
  local name=$1; shift
  port=$((port + 1))
  "${@//PORT/$port}" >/tmp/serve-bench-$name.log 2>&1 &
  local pid=$!
  wait_up http://127.0.0.1:$port
  python3 scripts/serve_throughput.py --url http://127.0.0.1:$port --clients "$clients" --requests "$requests" --tokens "$tokens" --label "$name"
  kill $pid; wait $pid 2>/dev/null || true
}
echo "# $(date -u +%FT%TZ) $(basename "$model") clients=$clients requests=$requests tokens=$tokens load $(cut -d' ' -f1 /proc/loadavg)"
for r in $(seq "$rounds"); do
  run_one ragtune-p8 /tmp/ragtune-serve-bench serve --model "$model" --addr 127.0.0.1:PORT --parallel 8 --ctx 2048
  run_one llama-server-np8 "$ls_bin" -m "$model" --host 127.0.0.1 --port PORT -np 8 -cb -t 2 -c 16384
  run_one ragtune-p1 /tmp/ragtune-serve-bench serve --model "$model" --addr 127.0.0.1:PORT --parallel 1 --ctx 2048
done
