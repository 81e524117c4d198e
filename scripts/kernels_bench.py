#!/usr/bin/env python3
"""Side-by-side speed figures for docs/BENCHMARKS.md (Kernels and quantization).

Runs, interleaved and repeated (these machines are shared, so each side is
measured --reps times, alternating, and the table gives the median round
of each side, the typical figure, with the range beside it):
  - f32 GEMM 1024^3: `go test ./tensor -bench MatMul/.*/T=1024` against
    OpenBLAS's cblas_sgemm (scripts/kernels_openblas.py) when OPENBLAS_LIB
    is set;
  - each GGUF model: `ragtune bench --json` against llama.cpp's own
    `llama-bench` on the same file, same threads, prompt and generation
    lengths. The peer must be llama.cpp built from source for this CPU, as
    its users build it (recipe in docs/BENCHMARKS.md); node-llama-cpp's
    prebuilt library is a generic build and understates llama.cpp, so it
    serves goldens, never this table.
Prints a Markdown table with the ratios ragtune/peer of the medians.

    go build -o /tmp/ragtune ./cmd/ragtune
    python3 scripts/kernels_bench.py --ragtune /tmp/ragtune \
        --llama-bench ~/llama.cpp/build/bin/llama-bench --reps 3 r15-q8_0.gguf r15-q4_0.gguf

Set RAGTUNE_BENCH_ENV to extra environment for ragtune only, e.g.
`GODEBUG=cpu.avx512f=off,...` to measure a lesser kernel tier.

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
    ap.add_argument("--llama-bench", required=True,
                    help="llama-bench of a llama.cpp built from source for this CPU")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("models", nargs="*")
    a = ap.parse_args()

    rounds = {}
    best = {}  # single values (sizes, RSS)

    def keep(key, v):
        rounds.setdefault(key, []).append(v)

    ours_env = dict(os.environ)
    for kv in os.environ.get("RAGTUNE_BENCH_ENV", "").split():
        k, _, v = kv.partition("=")
        ours_env[k] = v

    core = None
    for rep in range(a.reps):
        keep("gemm_ours", gemm_ours())
        if os.environ.get("OPENBLAS_LIB"):
            v, core = gemm_openblas(a.threads)
            keep("gemm_openblas", v)
        for m in a.models:
            ours = json.loads(run([a.ragtune, "bench", "--model", m, "--threads", str(a.threads),
                                   "--prompt", str(a.prompt), "--gen", str(a.gen), "--json"], env=ours_env))
            keep((m, "ours", "prefill"), ours["prefill_tokens_per_second"])
            keep((m, "ours", "decode"), ours["decode_tokens_per_second"])
            best[(m, "rss")] = max(best.get((m, "rss"), 0), ours["peak_rss_bytes"])
            best[(m, "size")] = ours["file_size_bytes"]
            best[(m, "path")] = ours.get("kernels", ours.get("path", ""))
            peer = json.loads(run([a.llama_bench, "-m", m, "-t", str(a.threads), "-p", str(a.prompt),
                                   "-n", str(a.gen), "-r", "1", "-o", "json"]))
            for r in peer:
                what = "prefill" if r["n_prompt"] > 0 else "decode"
                keep((m, "llama", what), r["avg_ts"])
        print("rep %d done: %s" % (rep + 1, {str(k): [round(x, 2) for x in v] for k, v in rounds.items()}),
              file=sys.stderr)

    def med(key):
        v = sorted(rounds[key])
        n = len(v)
        return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

    def rng(key):
        return "%.1f–%.1f" % (min(rounds[key]), max(rounds[key]))

    print("%d rounds each, alternating; median (range)" % a.reps)
    print()
    print("| measurement | ragtune | peer | ratio of medians |")
    print("|---|---|---|---|")
    if "gemm_openblas" in rounds:
        print("| f32 GEMM 1024³, %d threads (GFLOP/s) | %.0f (%s) | OpenBLAS (%s) %.0f (%s) | %.2f× |" % (
            a.threads, med("gemm_ours"), rng("gemm_ours"), core, med("gemm_openblas"), rng("gemm_openblas"),
            med("gemm_ours") / med("gemm_openblas")))
    else:
        print("| f32 GEMM 1024³ (GFLOP/s) | %.0f (%s) | | |" % (med("gemm_ours"), rng("gemm_ours")))
    for m in a.models:
        name = os.path.basename(m)
        for what in ("prefill", "decode"):
            o, p = (m, "ours", what), (m, "llama", what)
            n = a.prompt if what == "prefill" else a.gen
            print("| %s %s %d tokens (tokens/s) | %.2f (%s) | llama.cpp %.2f (%s) | %.2f× |" % (
                name, what, n, med(o), rng(o), med(p), rng(p), med(o) / med(p)))
        print("| %s kernels | %s | | |" % (name, best[(m, "path")]))
        print("| %s peak RSS | %.2f GiB | file %.2f GiB | %.2f× the file |" % (
            name, best[(m, "rss")] / 2**30, best[(m, "size")] / 2**30, best[(m, "rss")] / best[(m, "size")]))


if __name__ == "__main__":
    main()
