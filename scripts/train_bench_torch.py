#!/usr/bin/python3
"""PyTorch peer for BenchmarkLoRAStep (package train): one LoRA training step
(r=16, alpha=16, dropout 0.05 on q,k,v,o,gate,up,down; frozen float32 base;
AdamW) on one sequence, on a random model of the R1-Distill-Qwen-1.5B shape,
with the same eager Qwen2 math as scripts/train_reference.py.

Usage: /usr/bin/python3 scripts/train_bench_torch.py [layers=28] [seq=256] [steps=3] [threads=2]
Prints seconds per step, tokens/s, CPU seconds per step and peak RSS.

Debian's python3-torch is built with BLAS_INFO=generic: it multiplies with
whatever libblas.so.3 the system selects, which is the slow reference BLAS
(~3 GFLOP/s) unless libopenblas0 is installed. For a fair peer, point it at
OpenBLAS without installing it system-wide, in its OpenMP build: it shares
torch's OpenMP thread pool, where the pthread build's own threads fight it
for the cores (twice the wall time on 2 cores):
    apt-get download libopenblas0-openmp && dpkg -x libopenblas0-openmp_*.deb /tmp/obomp
    LD_LIBRARY_PATH=/tmp/obomp/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 \
        /usr/bin/python3 scripts/train_bench_torch.py 28 256 2 2
"""
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

L = int(sys.argv[1]) if len(sys.argv) > 1 else 28
T = int(sys.argv[2]) if len(sys.argv) > 2 else 256
STEPS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)


def blas():
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if "blas" in l}
    return ", ".join(sorted(libs)) or "unknown"

C, I, NH, NKV, V, R = 1536, 8960, 12, 2, 151936, 16
HS = C // NH
torch.manual_seed(0)


def rnd(*shape):
    return (torch.rand(*shape) * 2 - 1) * 0.035


W = {"embed": torch.rand(V, C) * 2 - 1, "norm": torch.ones(C), "head": rnd(V, C)}
lora = []
dims = {"q": (C, C), "k": (C, NKV * HS), "v": (C, NKV * HS), "o": (C, C), "gate": (C, I), "up": (C, I), "down": (I, C)}
layers = []
for l in range(L):
    ly = {"n1": torch.ones(C), "n2": torch.ones(C)}
    for m, (i, o) in dims.items():
        ly[m] = rnd(o, i)
        a = ((torch.rand(R, i) * 2 - 1) / math.sqrt(i)).requires_grad_()
        b = torch.zeros(o, R).requires_grad_()
        ly[m + "_ab"] = (a, b)
        lora += [a, b]
    ly["qb"], ly["kb"], ly["vb"] = rnd(C), rnd(NKV * HS), rnd(NKV * HS)
    layers.append(ly)
drop = torch.nn.Dropout(0.05)


def lin(x, ly, m, bias=None):
    a, b = ly[m + "_ab"]
    return F.linear(x, ly[m], bias) + F.linear(F.linear(drop(x), a), b) * (16 / R)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


inv = 1.0 / (10000 ** (torch.arange(0, HS, 2).float() / HS))
emb = torch.outer(torch.arange(T).float(), inv)
emb = torch.cat((emb, emb), -1)
cos, sin = emb.cos(), emb.sin()
mask = torch.full((T, T), float("-inf")).triu(1)


def rot(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


def loss_fn(tokens):
    x = W["embed"][tokens]
    for ly in layers:
        h = rms(x, ly["n1"])
        q = lin(h, ly, "q", ly["qb"]).view(1, T, NH, HS).transpose(1, 2)
        k = lin(h, ly, "k", ly["kb"]).view(1, T, NKV, HS).transpose(1, 2)
        v = lin(h, ly, "v", ly["vb"]).view(1, T, NKV, HS).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(NH // NKV, 1), v.repeat_interleave(NH // NKV, 1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HS) + mask, -1)
        x = x + lin((att @ v).transpose(1, 2).reshape(1, T, C), ly, "o")
        h = rms(x, ly["n2"])
        x = x + lin(F.silu(lin(h, ly, "gate")) * lin(h, ly, "up"), ly, "down")
    logits = F.linear(rms(x, W["norm"]), W["head"])
    return F.cross_entropy(logits[0, :-1], tokens[0, 1:])


opt = torch.optim.AdamW(lora, lr=1e-4, weight_decay=0)
tokens = torch.randint(0, V, (1, T))
times, cpus = [], []


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


for s in range(STEPS + 1):
    t0, c0 = time.time(), cpu()
    opt.zero_grad()
    loss = loss_fn(tokens)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(lora, 1.0)
    opt.step()
    times.append(time.time() - t0)
    cpus.append(cpu() - c0)
best = min(times[1:])
mean = sum(times[1:]) / STEPS
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
cpu_step = sum(cpus[1:]) / STEPS
print(f"BLAS: {blas()}")
print(f"pytorch {torch.__version__}: layers {L} seq {T} threads {torch.get_num_threads()}: {mean:.2f} s/step (best {best:.2f}), "
      f"{T / mean:.2f} tokens/s, {cpu_step:.2f} cpu-s/step, peak RSS {rss:.2f} GB")
