#!/usr/bin/env python3
"""Golden Q6_K blocks and their dequantized values from llama.cpp.

llama-quantize gives a Q4_0 model's output head Q6_K, so ragtune reads Q6_K
to run llama.cpp's own Q4_0 files. This quantizes deterministic inputs with
ggml_quantize_chunk (type Q6_K) in the libggml-base.so that node-llama-cpp
ships and expands them again with its dequantize_row_q6_K. Writes
quant/testdata/llamacpp_q6k.bin:

    u32 n (floats, a multiple of 256), Q6_K bytes (n/256*210), f32[n] dequantized

Run (once; the output is committed, CI never runs this):

    NODE_LLAMA_CPP_BINS=/work/oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 \\
        python3 scripts/quant_llamacpp_q6k.py
"""
import ctypes
import os
import random
import struct

from quant_llamacpp import BINS  # the same node-llama-cpp libraries as the Q8_0/Q4_0 golden

OUT = os.path.join(os.path.dirname(__file__), "..", "quant", "testdata", "llamacpp_q6k.bin")
GGML_TYPE_Q6_K, QK, BLOCK = 14, 256, 210


def blocks():
    rnd = random.Random(20261129)
    out = []
    for scale in (0.02, 1.0, 3e-5, 300.0):
        for _ in range(4):
            out.append([rnd.gauss(0, scale) for _ in range(QK)])
    # Sub-blocks of very different magnitude share one super-block scale.
    b = []
    for i in range(16):
        b += [rnd.gauss(0, 10.0 ** (i % 4 - 2)) for _ in range(16)]
    out.append(b)
    out.append([0.0] * QK)
    out.append([0.0] * (QK - 1) + [-2.5])
    out.append([float(i % 64 - 32) for i in range(QK)])
    return out


def main():
    base = ctypes.CDLL(os.path.join(BINS, "libggml-base.so"))
    q = base.ggml_quantize_chunk
    q.restype = ctypes.c_size_t
    q.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                  ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    deq = base.dequantize_row_q6_K
    deq.restype = None
    deq.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    vals = [v for b in blocks() for v in b]
    n = len(vals)
    src = (ctypes.c_float * n)(*vals)
    dst = ctypes.create_string_buffer(n // QK * BLOCK)
    got = q(GGML_TYPE_Q6_K, src, dst, 0, n // QK, QK, None)
    assert got == n // QK * BLOCK, got
    back = (ctypes.c_float * n)()
    deq(dst, back, n)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<I", n))
        f.write(dst.raw)
        f.write(struct.pack("<%df" % n, *back))
    print("wrote %s: %d blocks" % (OUT, n // QK))


if __name__ == "__main__":
    main()
