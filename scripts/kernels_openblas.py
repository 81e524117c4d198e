#!/usr/bin/env python3
"""OpenBLAS's float32 GEMM, the peer figure for `go test ./tensor -bench
MatMul` (docs/BENCHMARKS.md, Kernels section): 1024x1024x1024 by default,
or the shapes given after the thread count.

Loads libopenblas.so.0 directly with ctypes, so nothing on the system
changes (Debian's libopenblas0-pthread would switch the libblas
alternative for every program). Fetch it into a scratch folder once:

    cd /tmp && apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb ob
    OPENBLAS_LIB=/tmp/ob/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 \\
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/kernels_openblas.py [threads] [n | shape...]

A shape is T,C,OC (forward: out (T,OC) = inp (T,C) @ w^T, tensor.MatMul's
layout and PyTorch's F.linear) or bwd:T,C,OC (dinp (T,C) = dout (T,OC) @ w,
the input gradient of MatMulBackward and of PyTorch's linear backward).
`train` stands for the shapes of a LoRA step on the R1-Distill-Qwen-1.5B
model at 256 tokens (BenchmarkMatMulShapesCPUTime in package tensor runs
the same list).

Prints the kernel OpenBLAS picked (openblas_get_corename) and GFLOP/s per
shape (best of 10 runs, after a warm-up). CPU_TIME=1 with threads=1 times
the calling thread's CPU time instead of wall time (robust on a loaded
machine; compare with BenchmarkMatMulCPUTime in package tensor).
"""
import ctypes
import os
import sys
import time

TRAIN = ["256,1536,1536", "256,1536,256", "256,1536,8960", "256,8960,1536", "128,1536,18992",
         "bwd:256,1536,1536", "bwd:256,1536,256", "bwd:256,1536,8960", "bwd:256,8960,1536",
         "bwd:128,1536,18992"]

lib = ctypes.CDLL(os.environ["OPENBLAS_LIB"])
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
shapes = sys.argv[2:] or ["1024"]
lib.openblas_set_num_threads(threads)
lib.openblas_get_corename.restype = ctypes.c_char_p
P = ctypes.POINTER(ctypes.c_float)
# cblas_sgemm(RowMajor=101, NoTrans=111, Trans=112, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
sgemm = lib.cblas_sgemm
sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, P, ctypes.c_int, P, ctypes.c_int,
                                       ctypes.c_float, P, ctypes.c_int]
clock = time.perf_counter
if os.environ.get("CPU_TIME"):
    # With one thread OpenBLAS computes in the calling thread, so its CPU
    # time is the work itself, whatever else the machine runs.
    clock = time.thread_time


def filled(n, mul):
    v = (ctypes.c_float * n)()
    for i in range(n):
        v[i] = ((i * mul) % 1000) / 1000.0 - 0.5
    return ctypes.cast(v, P), v


shapes = [x for s in shapes for x in (TRAIN if s == "train" else [s])]
for s in shapes:
    bwd = s.startswith("bwd:")
    dims = [int(x) for x in s[4 if bwd else 0:].split(",")]
    T, C, OC = dims if len(dims) == 3 else dims * 3
    x, xk = filled(T * C, 7919)
    w, wk = filled(OC * C, 104729)
    y, yk = filled(T * OC, 15485863)
    if bwd:
        # dinp (T, C) = dout (T, OC) @ w (OC, C)
        call = lambda: sgemm(101, 111, 111, T, C, OC, 1.0, y, OC, w, C, 0.0, x, C)
    else:
        # out (T, OC) = inp (T, C) @ w^T
        call = lambda: sgemm(101, 111, 112, T, OC, C, 1.0, x, C, w, C, 0.0, y, OC)
    call()
    times = []
    for _ in range(10):
        t0 = clock()
        call()
        times.append(clock() - t0)
    best = min(times)
    label = ("n=%d" % T) if len(dims) == 1 else s
    print("openblas %s core=%s threads=%d %s: %.1f GFLOP/s (best of 10, %.2f ms)" % (
        os.path.basename(os.environ["OPENBLAS_LIB"]), lib.openblas_get_corename().decode(), threads, label,
        2 * T * C * OC / best / 1e9, best * 1e3))
