#!/usr/bin/env python3
"""Side-by-side speed figures for docs/BENCHMARKS.md (Kernels and quantization).

Runs, interleaved and repeated (these machines are shared, so every figure
is the best of --reps runs, taken the same way for both sides):
  - f32 GEMM 1024^3: `go test ./tensor -bench MatMul/.*/T=1024` against
    OpenBLAS's cblas_sgemm (scripts/kernels_openblas.py) when OPENBLAS_LIB
    is set;
  - each GGUF model: `ragtune bench --json` against llama.cpp on the same
    file (scripts/qwen2_llamacpp.mjs bench, node-llama-cpp 3.21.1), same
    threads, prompt and generation lengths.
Prints a Markdown table with the ratios ragtune/peer.

    go build -o /tmp/ragtune ./cmd/ragtune
    python3 scripts/kernels_bench.py --ragtune /tmp/ragtune --reps 3 r15-q8_0.gguf r15-q4_0.gguf

(make the models with `ragtune model init --preset r1-distill-qwen-1.5b`
and `ragtune quantize --type q8_0|q4_0`).
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def run(cmd, env=None):
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def gemm_ours():
    out = run(["go", "test", "./tensor", "-run", "^$", "-bench", "MatMul$/.*/T=1024", "-benchtime", "3x", "-count", "3"])
    return max(float(m) for m in re.findall(r"([\d.]+) GFLOP/s", out))


def gemm_openblas(threads):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = run([sys.executable, "scripts/kernels_openblas.py", str(threads), "1024"], env=env)
    m = re.search(r"core=(\S+).*: ([\d.]+) GFLOP/s", out)
    return float(m.group(2)), m.group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ragtune", default="ragtune")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()

    best = {}

    def keep(key, v):
        best[key] = max(best.get(key, 0), v)

    core = None
    for rep in range(a.reps):
        keep("gemm_ours", gemm_ours())
        if os.environ.get("OPENBLAS_LIB"):
            v, core = gemm_openblas(a.threads)
            keep("gemm_openblas", v)
        for m in a.models:
            ours = json.loads(run([a.ragtune, "bench", "--model", m, "--threads", str(a.threads),
                                   "--prompt", str(a.prompt), "--gen", str(a.gen), "--json"]))
            keep((m, "ours", "prefill"), ours["prefill_tokens_per_second"])
            keep((m, "ours", "decode"), ours["decode_tokens_per_second"])
            best[(m, "rss")] = ours["peak_rss_bytes"]
            best[(m, "size")] = ours["file_size_bytes"]
            line = run(["node", "scripts/qwen2_llamacpp.mjs", "bench", "--model", m, "--threads", str(a.threads),
                        "--prompt", str(a.prompt), "--gen", str(a.gen)]).strip().splitlines()[-1]
            peer = json.loads(line)
            keep((m, "llama", "prefill"), peer["prefill_tok_s"])
            keep((m, "llama", "decode"), peer["decode_tok_s"])
        print("rep %d done: %s" % (rep + 1, {str(k): round(v, 2) for k, v in best.items()}), file=sys.stderr)

    print("| measurement | ragtune | peer | ratio |")
    print("|---|---|---|---|")
    if "gemm_openblas" in best:
        print("| f32 GEMM 1024³, %d threads (GFLOP/s) | %.0f | OpenBLAS 0.3.21 (%s) %.0f | %.2f× |" % (
            a.threads, best["gemm_ours"], core, best["gemm_openblas"], best["gemm_ours"] / best["gemm_openblas"]))
    else:
        print("| f32 GEMM 1024³ (GFLOP/s) | %.0f | | |" % best["gemm_ours"])
    for m in a.models:
        name = os.path.basename(m)
        for what in ("prefill", "decode"):
            o, p = best[(m, "ours", what)], best[(m, "llama", what)]
            n = a.prompt if what == "prefill" else a.gen
            print("| %s %s %d tokens (tokens/s) | %.2f | llama.cpp %.2f | %.2f× |" % (name, what, n, o, p, o / p))
        print("| %s peak RSS | %.2f GiB | file %.2f GiB | %.2f× the file |" % (
            name, best[(m, "rss")] / 2**30, best[(m, "size")] / 2**30, best[(m, "rss")] / best[(m, "size")]))


if __name__ == "__main__":
    main()
