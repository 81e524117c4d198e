#!/usr/bin/env python3
"""Golden Q8_0/Q4_0 blocks from llama.cpp's own quantizer.

Calls ggml_quantize_chunk (what llama-quantize runs for these types) in the
libggml-base.so that node-llama-cpp ships, on deterministic inputs with the
edge cases that decide rounding: ties in magnitude, exact .5 steps, zero
blocks, tiny and huge scales. Writes quant/testdata/llamacpp_golden.bin:

    u32 n (floats), f32[n] input, Q8_0 bytes (n/32*34), Q4_0 bytes (n/32*18)

Run (once; the output is committed, CI never runs this):

    NODE_LLAMA_CPP_BINS=/work/oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 \\
        python3 scripts/quant_llamacpp.py
"""
import ctypes
import os
import random
import struct

BINS = os.environ.get(
    "NODE_LLAMA_CPP_BINS",
    "/work/oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64")
OUT = os.path.join(os.path.dirname(__file__), "..", "quant", "testdata", "llamacpp_golden.bin")
GGML_TYPE_Q4_0, GGML_TYPE_Q8_0 = 2, 8


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def blocks():
    rnd = random.Random(20261129)
    out = []
    # Gaussian weights at the scales of real checkpoints.
    for scale in (0.02, 0.1, 1.0, 3e-5, 300.0):
        for _ in range(8):
            out.append([rnd.gauss(0, scale) for _ in range(32)])
    # Uniform, and heavy-tailed with one outlier per block.
    for _ in range(8):
        out.append([rnd.uniform(-1, 1) for _ in range(32)])
    for _ in range(8):
        b = [rnd.gauss(0, 0.01) for _ in range(32)]
        b[rnd.randrange(32)] = rnd.choice((-1, 1)) * 0.5
        out.append(b)
    # Ties in magnitude: Q4_0 keeps the first; the sign decides d's sign.
    out.append([1.0 if i == 3 else -1.0 if i == 7 else 0.25 * (i % 5 - 2) for i in range(32)])
    out.append([-1.0 if i == 3 else 1.0 if i == 7 else 0.25 * (i % 5 - 2) for i in range(32)])
    # Integer grids: x/d lands exactly on .5 steps.
    out.append([float(i - 16) for i in range(32)])
    out.append([float(16 - i) * 0.5 for i in range(32)])
    out.append([(i - 15.5) / 15.5 * 127 for i in range(32)])
    # Zeros, a lone value, subnormal-f16 scales, all equal.
    out.append([0.0] * 32)
    out.append([0.0] * 31 + [-2.5])
    out.append([rnd.uniform(-1e-6, 1e-6) for _ in range(32)])
    out.append([0.7] * 32)
    out.append([-0.7] * 32)
    return [[f32(v) for v in b] for b in out]


def main():
    base = ctypes.CDLL(os.path.join(BINS, "libggml-base.so"))
    q = base.ggml_quantize_chunk
    q.restype = ctypes.c_size_t
    q.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                  ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    vals = [v for b in blocks() for v in b]
    n = len(vals)
    src = (ctypes.c_float * n)(*vals)
    res = {}
    for t, bs in ((GGML_TYPE_Q8_0, 34), (GGML_TYPE_Q4_0, 18)):
        dst = ctypes.create_string_buffer(n // 32 * bs)
        # One row of 32 per block, so every block is its own row.
        got = q(t, src, dst, 0, n // 32, 32, None)
        assert got == n // 32 * bs, got
        res[t] = dst.raw
    with open(OUT, "wb") as f:
        f.write(struct.pack("<I", n))
        f.write(struct.pack("<%df" % n, *vals))
        f.write(res[GGML_TYPE_Q8_0])
        f.write(res[GGML_TYPE_Q4_0])
    print("wrote %s: %d blocks" % (OUT, n // 32))


if __name__ == "__main__":
    main()
