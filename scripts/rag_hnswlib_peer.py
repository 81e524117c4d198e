#!/usr/bin/python3
"""Peer for our HNSW (docs/BENCHMARKS.md, ## Retrieval): hnswlib (Debian
python3-hnswlib, the reference C++ implementation by the HNSW authors) on the
same problem as index.BenchmarkHNSW100k: N random Gaussian 384-d vectors,
cosine, M=16, efConstruction=200, recall@10 against exact search over 200
random queries at several efSearch values, single-threaded queries.

Usage: /usr/bin/python3 scripts/rag_hnswlib_peer.py [N]   (default 100000)
Needs: apt-get install python3-hnswlib python3-numpy
"""
import sys
import time

import hnswlib
import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
dim, nq = 384, 200
rng = np.random.default_rng(31)
data = rng.standard_normal((n, dim), dtype=np.float32)
queries = rng.standard_normal((nq, dim), dtype=np.float32)
data /= np.linalg.norm(data, axis=1, keepdims=True)
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
exact = np.argsort(-(queries @ data.T), axis=1)[:, :10]

index = hnswlib.Index(space="cosine", dim=dim)
index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=1)
index.set_num_threads(1)
t0, c0 = time.time(), time.process_time()
index.add_items(data, np.arange(n))
print(f"hnswlib {n}x{dim} M=16 efConstruction=200: build {time.time()-t0:.1f} s wall, {time.process_time()-c0:.1f} s CPU (1 thread)")
for ef in (128, 512, 1024, 2048):
    index.set_ef(ef)
    c0 = time.process_time()
    labels, _ = index.knn_query(queries, k=10)
    cpu = (time.process_time() - c0) / nq
    recall = np.mean([len(set(labels[i]) & set(exact[i])) / 10 for i in range(nq)])
    print(f"ef={ef}: recall@10 {recall:.4f}, {cpu*1000:.2f} CPU-ms/query")
