#!/usr/bin/env python3
"""Alternated benchmark rounds with medians, for docs/BENCHMARKS.md.

Usage: scripts/bench_rounds.py ROUNDS OUT.json < cases.tsv

Each line of cases.tsv is NAME<TAB>KIND<TAB>ENV<TAB>COMMAND, run through the shell
with ENV (space-separated K=V, may be empty) added; KIND says how to read the
output: rt (ragtune bench --json), lb (llama-bench -o json) or bb
(llama-batched-bench's table: one entry per batch size). Every case runs once
per round, in order, so both sides of a comparison see the same minutes; the
median of the rounds and each round are printed, and OUT.json keeps them all.
scripts/tiers_bench.sh writes the case lists this repository's tables used.
"""
import json, os, statistics, subprocess, sys, time
rounds = int(sys.argv[1]); out = sys.argv[2]
cases = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip() and not l.startswith("#")]
res = {}
def keep(k, v): res.setdefault(k, []).append(v)
for r in range(rounds):
    for name, kind, env, cmd in cases:
        e = dict(os.environ)
        for kv in env.split():
            k, _, v = kv.partition("="); e[k] = v
        t0 = time.time()
        p = subprocess.run(cmd, shell=True, env=e, capture_output=True, text=True)
        if p.returncode != 0:
            print("FAIL", name, p.stdout[-2000:], p.stderr[-2000:], file=sys.stderr); continue
        load = open("/proc/loadavg").read().split()[0]
        if kind == "rt":
            j = json.loads(p.stdout)
            keep((name, "pp"), j["prefill_tokens_per_second"]); keep((name, "tg"), j["decode_tokens_per_second"])
            keep((name, "kernels"), j.get("kernels", j.get("path", "")))
            if "peak_rss_bytes" in j: keep((name, "rss"), j["peak_rss_bytes"])
        elif kind == "lb":
            for x in json.loads(p.stdout):
                keep((name, "pp" if x["n_prompt"] > 0 else "tg"), x["avg_ts"])
        elif kind == "bb":
            for line in p.stdout.splitlines():
                c = [x.strip() for x in line.split("|")]
                if len(c) > 9 and c[1].isdigit():
                    # | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |
                    B = c[3]; keep((name + " B=" + B, "pp"), float(c[6])); keep((name + " B=" + B, "tg"), float(c[8]))
        print("round %d %-40s %5.1fs load %s" % (r + 1, name, time.time() - t0, load), file=sys.stderr, flush=True)
    json.dump({"|".join(k): v for k, v in res.items()}, open(out, "w"), indent=0)
for k, v in sorted(res.items()):
    if isinstance(v[0], (int, float)):
        print("%-50s %-3s median %8.2f  rounds %s" % (k[0], k[1], statistics.median(v), " ".join("%.2f" % x for x in v)))
    else:
        print("%-50s %-3s %s" % (k[0], k[1], v[0]))
