#!/usr/bin/env python3
"""Golden for `ragtune quantize`: llama.cpp's llama-quantize on the tiny model.

Builds the deterministic tiny model (`ragtune model init --preset tiny`),
converts it to an F32 GGUF (`ragtune model convert --type f32`), quantizes
that with llama.cpp's llama_model_quantize (libllama from node-llama-cpp,
default parameters, ftype Q8_0 and Q4_0), and records every tensor's GGUF
type and SHA-256 in cmd/ragtune/testdata/quantize_llamacpp_tiny.json.
TestQuantizeMatchesLlamaCpp then requires `ragtune quantize` to write the
same types and bytes.

    go build -o /tmp/ragtune ./cmd/ragtune
    RAGTUNE=/tmp/ragtune NODE_LLAMA_CPP_BINS=/work/oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 \\
        python3 scripts/quant_llamacpp_model.py
"""
import ctypes
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

BINS = os.environ.get(
    "NODE_LLAMA_CPP_BINS",
    "/work/oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64")
RAGTUNE = os.environ.get("RAGTUNE", "ragtune")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cmd", "ragtune", "testdata",
                   "quantize_llamacpp_tiny.json")

# ggml type -> (block elements, block bytes)
BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34), 14: (256, 210), 30: (1, 2)}
FTYPES = {"q8_0": 7, "q4_0": 2}


class Params(ctypes.Structure):
    # llama_model_quantize_params as of node-llama-cpp 3.21.1's llama.cpp;
    # only nthread and ftype are set here, the tail is padding.
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int32),
                ("output_tensor_type", ctypes.c_int32), ("token_embedding_type", ctypes.c_int32),
                ("flags", ctypes.c_bool * 5), ("ptrs", ctypes.c_void_p * 4), ("pad", ctypes.c_char * 256)]


def gguf_tensors(path):
    """Parse a GGUF v3 file: {name: (ggml type, sha256 of data)}."""
    b = open(path, "rb").read()
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, b, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = take("Q")
        s = b[off:off + n].decode()
        off += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert b[:4] == b"GGUF", "not a GGUF file"
    off = 4
    take("I")
    nt, nkv = take("Q"), take("Q")
    align = 32
    for _ in range(nkv):
        k = string()
        v = value(take("I"))
        if k == "general.alignment":
            align = v
    infos = []
    for _ in range(nt):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        typ, toff = take("I"), take("Q")
        infos.append((name, dims, typ, toff))
    data = (off + align - 1) // align * align
    out = {}
    for name, dims, typ, toff in infos:
        n = 1
        for d in dims:
            n *= d
        be, bb = BLOCKS[typ]
        size = n // be * bb
        out[name] = {"type": typ, "sha256": hashlib.sha256(b[data + toff:data + toff + size]).hexdigest()}
    return out


def main():
    for l in ("libggml-base.so", "libggml.v0.4.0.so"):
        ctypes.CDLL(os.path.join(BINS, l), mode=ctypes.RTLD_GLOBAL)
    ll = ctypes.CDLL(os.path.join(BINS, "libllama.v0.4.0.so"))
    ll.llama_model_quantize_default_params.restype = Params
    ll.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Params)]
    ll.llama_backend_init()
    golden = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "tiny")
        f32 = os.path.join(tmp, "tiny-f32.gguf")
        subprocess.run([RAGTUNE, "model", "init", "--out", model, "--preset", "tiny"], check=True)
        subprocess.run([RAGTUNE, "model", "convert", "--model", model, "--out", f32, "--type", "f32"], check=True)
        for name, ftype in FTYPES.items():
            p = ll.llama_model_quantize_default_params()
            p.ftype, p.nthread = ftype, 2
            dst = os.path.join(tmp, "tiny-%s.gguf" % name)
            rc = ll.llama_model_quantize(f32.encode(), dst.encode(), ctypes.byref(p))
            if rc != 0:
                sys.exit("llama_model_quantize %s failed: %d" % (name, rc))
            golden[name] = gguf_tensors(dst)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
