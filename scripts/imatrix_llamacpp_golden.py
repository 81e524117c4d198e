#!/usr/bin/env python3
"""Goldens for `ragtune quantize --imatrix` and `--imatrix-data`.

For two generated models (the tiny preset, whose 64-wide rows make
llama-quantize fall back to the 32-value types Q5_0/Q5_1/Q8_0/Q4_0, and an
8-layer model with 256-wide rows for the K-quants themselves) this
converts the model to an F32 GGUF with `ragtune model convert`, runs
llama.cpp's llama-imatrix on cmd/ragtune/testdata/imatrix_calibration.txt
with a 128-token context, keeps its imatrix.dat file in cmd/ragtune/testdata,
quantizes the model with llama-quantize --imatrix for each mix, and records
each tensor's GGUF type and the SHA-256 of its bytes (first 16 hex digits)
in cmd/ragtune/testdata/quantize_llamacpp_imatrix.json.

TestQuantizeIMatrixMatchesLlamaCpp requires `ragtune quantize --imatrix
FILE` to write the same bytes; TestIMatrixCollectMatchesLlamaCpp requires
the matrix `ragtune quantize --imatrix-data` collects to match
llama-imatrix's file.

Mixes left out: q2_k/q3_k_* on the tiny model (this llama.cpp falls back to
IQ4_NL for their narrow rows, a type ragtune does not write). q4_0 on the
8-layer model shows the one rule an importance matrix changes: the first
layer's ffn_down becomes Q4_1.

    go build -o /tmp/ragtune ./cmd/ragtune
    RAGTUNE=/tmp/ragtune LLAMA_BIN=/work/peers/llama.cpp/build/bin python3 scripts/imatrix_llamacpp_golden.py
"""
import importlib.util
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RAGTUNE = os.environ.get("RAGTUNE", "ragtune")
LLAMA_BIN = os.environ["LLAMA_BIN"]
CMD_DIR = os.path.join(HERE, "..", "cmd", "ragtune")
TEXT = "testdata/imatrix_calibration.txt"  # relative to CMD_DIR: the name the .dat file records
CTX = "128"

MODELS = {
    "tiny": (["--preset", "tiny"], ["q4_k_m", "q5_k_s", "q5_k_m", "q6_k", "q4_0", "q8_0"]),
    "w256-l8-gqa2": (["--preset", "tiny", "--hidden-size", "256", "--intermediate-size", "512",
                      "--layers", "8", "--heads", "4", "--kv-heads", "2"],
                     ["q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k",
                      "q8_0", "q4_0", "q4_k_m+pure", "q2_k+pure"]),
}


def gguf_tensors(path):
    # The GGUF walk of the K-quant mixes golden, shared rather than copied.
    spec = importlib.util.spec_from_file_location("mixes", os.path.join(HERE, "kquant_llamacpp_mixes.py"))
    os.environ.setdefault("NODE_LLAMA_CPP_BINS", "")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.gguf_tensors(path)


def main():
    golden = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (args, mixes) in MODELS.items():
            m = os.path.join(tmp, name)
            subprocess.run([RAGTUNE, "model", "init", "--out", m] + args, check=True, stdout=subprocess.DEVNULL)
            f32 = m + "-f32.gguf"
            subprocess.run([RAGTUNE, "model", "convert", "--model", m, "--out", f32, "--type", "f32"], check=True,
                           stdout=subprocess.DEVNULL)
            dat = f"imatrix_llamacpp_{name}.dat"
            subprocess.run([os.path.join(LLAMA_BIN, "llama-imatrix"), "-m", f32, "-f", TEXT, "-o",
                            os.path.join("testdata", dat), "-c", CTX, "-t", "2", "--no-ppl"],
                           check=True, cwd=CMD_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            golden[name] = {"init": args, "imatrix": dat, "ctx": int(CTX)}
            for mix in mixes:
                base, pure = mix.split("+")[0], mix.endswith("+pure")
                q = os.path.join(tmp, f"{name}-{mix}.gguf")
                cmd = [os.path.join(LLAMA_BIN, "llama-quantize")] + (["--pure"] if pure else []) + \
                      ["--imatrix", os.path.join(CMD_DIR, "testdata", dat), f32, q, base, "1"]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                golden[name][mix] = gguf_tensors(q)
    out = os.path.join(CMD_DIR, "testdata", "quantize_llamacpp_imatrix.json")
    with open(out, "w") as f:
        json.dump(golden, f, indent=None, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
