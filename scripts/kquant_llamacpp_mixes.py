#!/usr/bin/env python3
"""Golden for `ragtune quantize --type q4_k_m` and the other K-quant mixes.

For three generated models (the tiny preset, whose 64-wide rows make
llama-quantize fall back to 32-value types; an 8-layer model with 256-wide
rows; a 17-layer one with 4 query heads per KV head, so the layer- and
GQA-dependent rules show) this converts the model to an F32 GGUF with
`ragtune model convert`, quantizes it with llama.cpp's llama_model_quantize
(scripts/kquant_llamacpp_quantize.c, no importance matrix) for every mix,
and records each tensor's GGUF type and the SHA-256 of its bytes (first 16
hex digits) in cmd/ragtune/testdata/quantize_llamacpp_kquant.json.
TestQuantizeKQuantMatchesLlamaCpp requires `ragtune quantize` to write the
same.

    go build -o /tmp/ragtune ./cmd/ragtune
    gcc -O1 -I $LLAMA_SRC/include -I $LLAMA_SRC/ggml/include -o /tmp/kqq scripts/kquant_llamacpp_quantize.c -ldl
    RAGTUNE=/tmp/ragtune KQQ=/tmp/kqq NODE_LLAMA_CPP_BINS=.../bins/linux-x64 python3 scripts/kquant_llamacpp_mixes.py
"""
import hashlib
import json
import os
import struct
import subprocess
import tempfile

BINS = os.environ["NODE_LLAMA_CPP_BINS"]
RAGTUNE = os.environ.get("RAGTUNE", "ragtune")
KQQ = os.environ.get("KQQ", "/tmp/kqq")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cmd", "ragtune", "testdata",
                   "quantize_llamacpp_kquant.json")

MODELS = {
    "tiny": ["--preset", "tiny"],
    "w256-l8-gqa2": ["--preset", "tiny", "--hidden-size", "256", "--intermediate-size", "512",
                     "--layers", "8", "--heads", "4", "--kv-heads", "2"],
    "w256-l17-gqa4": ["--preset", "tiny", "--hidden-size", "256", "--intermediate-size", "768",
                      "--layers", "17", "--heads", "8", "--kv-heads", "2"],
}
MIXES = ["q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k", "q4_0", "q8_0"]
PURE = ["q4_k_m", "q2_k"]


def gguf_tensors(path):
    """{name: [ggml type, sha256[:16] of its data]} of a GGUF v3 file."""
    b = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, b, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = b[pos:pos + n].decode()
        pos += n
        return s

    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(sizes[t])

    assert take("I") == 0x46554747
    take("I")
    nt, nkv = take("Q"), take("Q")
    align = 32
    for _ in range(nkv):
        k = string()
        v = value(take("I"))
        if k == "general.alignment":
            align = v
    # ggml type -> (block elements, block bytes)
    blocks = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 10: (256, 84),
              11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 30: (1, 2)}
    infos = []
    for _ in range(nt):
        name = string()
        nd = take("I")
        dims = [take("Q") for _ in range(nd)]
        typ, off = take("I"), take("Q")
        infos.append((name, dims, typ, off))
    data = (pos + align - 1) // align * align
    out = {}
    for name, dims, typ, off in infos:
        n = 1
        for d in dims:
            n *= d
        be, bb = blocks[typ]
        size = n // be * bb
        out[name] = [typ, hashlib.sha256(b[data + off:data + off + size]).hexdigest()[:16]]
    return out


def main():
    golden = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in MODELS.items():
            m = os.path.join(tmp, name)
            subprocess.run([RAGTUNE, "model", "init", "--out", m] + args, check=True, stdout=subprocess.DEVNULL)
            f32 = m + "-f32.gguf"
            subprocess.run([RAGTUNE, "model", "convert", "--model", m, "--out", f32, "--type", "f32"], check=True,
                           stdout=subprocess.DEVNULL)
            golden[name] = {"init": args}
            for mix in MIXES + [p + "+pure" for p in PURE]:
                base, pure = mix.split("+")[0], mix.endswith("+pure")
                q = os.path.join(tmp, f"{name}-{base}{'-pure' if pure else ''}.gguf")
                subprocess.run([KQQ, BINS, f32, q, base] + (["pure"] if pure else []), check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                golden[name][mix] = gguf_tensors(q)
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=None, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
