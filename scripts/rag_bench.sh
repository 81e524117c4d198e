#!/usr/bin/env bash
# Speed of the retrieval stack (docs/BENCHMARKS.md, ## Retrieval):
#  - ingest throughput (chunks/s) end to end through the store,
#  - query latency p50/p99 at 100k chunks for bm25, dense (exact) and hybrid,
#  - HNSW vs exact search on 100k random 384-d vectors (recall@10, latency);
#    the HNSW build takes minutes on 2 cores and is cached in $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./rag -run '^$' -bench 'Ingest|Query100k' -benchtime 1x -timeout 60m
go test ./index -run '^$' -bench 'HNSW100k|Flat100k' -benchtime 100x -timeout 90m
