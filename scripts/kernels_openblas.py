#!/usr/bin/env python3
"""OpenBLAS's float32 GEMM on 1024x1024x1024, the peer figure for
`go test ./tensor -bench MatMul` (docs/BENCHMARKS.md, Kernels section).

Loads libopenblas.so.0 directly with ctypes, so nothing on the system
changes (Debian's libopenblas0-pthread would switch the libblas
alternative for every program). Fetch it into a scratch folder once:

    cd /tmp && apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb ob
    OPENBLAS_LIB=/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 \\
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/kernels_openblas.py [threads] [n]

Prints the kernel OpenBLAS picked (openblas_get_corename) and GFLOP/s
(best of 10 runs, after a warm-up). CPU_TIME=1 with threads=1 times the
calling thread's CPU time instead of wall time (robust on a loaded
machine; compare with TestCPUTimeMatMul in package tensor).
"""
import ctypes
import os
import sys
import time

lib = ctypes.CDLL(os.environ["OPENBLAS_LIB"])
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
lib.openblas_set_num_threads(threads)
lib.openblas_get_corename.restype = ctypes.c_char_p
F = ctypes.c_float * (n * n)
a, b, c = F(), F(), F()
for i in range(n * n):
    a[i] = ((i * 7919) % 1000) / 1000.0 - 0.5
    b[i] = ((i * 104729) % 1000) / 1000.0 - 0.5
# cblas_sgemm(RowMajor=101, NoTrans=111, Trans=112, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
sgemm = lib.cblas_sgemm
sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, F, ctypes.c_int, F, ctypes.c_int,
                                       ctypes.c_float, F, ctypes.c_int]
# C = A @ B^T: the same layout as tensor.MatMul (weights row-major, out × in).
call = lambda: sgemm(101, 111, 112, n, n, n, 1.0, a, n, b, n, 0.0, c, n)
call()
clock = time.perf_counter
if os.environ.get("CPU_TIME"):
    # With one thread OpenBLAS computes in the calling thread, so its CPU
    # time is the work itself, whatever else the machine runs.
    clock = time.thread_time
times = []
for _ in range(10):
    t0 = clock()
    call()
    times.append(clock() - t0)
best = min(times)
print("openblas %s core=%s threads=%d n=%d: %.1f GFLOP/s (best of 10, %.2f ms)" % (
    os.path.basename(os.environ["OPENBLAS_LIB"]), lib.openblas_get_corename().decode(), threads, n,
    2 * n ** 3 / best / 1e9, best * 1e3))
