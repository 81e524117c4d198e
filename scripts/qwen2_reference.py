#!/usr/bin/env python3
"""Independent PyTorch reference of the Qwen2, Llama 3 and Qwen3 decoders: goldens for model/qwen2.

Regenerate the committed goldens (from the repository root; needs Go and
Debian's python3-torch, `apt-get install -y python3-torch`):

    /usr/bin/python3 scripts/qwen2_reference.py

That asks the Go test TestWriteGoldenModels to write the golden models
(`qwen2.InitWith` recipes, e.g. exactly `ragtune model init --preset tiny
--seed 1`) into a temp dir, then writes model/qwen2/testdata/pytorch_NAME.json
for each. Any other HF directory: `--model DIR --out FILE`.

The model is read directly: config.json plus the safetensors header parsed
with json + struct (no safetensors library). The forward pass is written
here from HF transformers' Qwen2 semantics (RMSNorm, q/k/v bias, rotate-half
RoPE, GQA via repeat_kv, causal softmax attention, SwiGLU MLP, tied or untied
head), with what Llama 3 adds (no biases by default, rope_scaling "llama3":
long wavelengths' frequencies divided by `factor`, a smooth blend between
original/high_freq_factor and original/low_freq_factor), rope_scaling "yarn"
(DeepSeek-R1-0528-Qwen3's context extension) and what Qwen3 adds
(an RMSNorm over each q and k head, q_norm/k_norm, before RoPE; head_dim from
the config), and runs in float64, so each golden (every position's logits for a few
deterministic token sequences) is the exact answer the Go float32 engine is
measured against.
"""

import argparse
import base64
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    """Returns {name: tensor} for one .safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = bytearray(blob[base + start : base + end])
        dtype = DTYPES[info["dtype"]]
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out


def read_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for name in files:
        w.update(read_safetensors(os.path.join(model_dir, name)))
    return w


def rms_norm(x, weight, eps):
    # HF Qwen2RMSNorm: x * rsqrt(mean(x^2) + eps), then scaled by the weight.
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Qwen2Reference:
    def __init__(self, model_dir, dtype):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        c = self.cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in read_weights(model_dir).items()}
        self.L = c["num_hidden_layers"]
        self.NH = c["num_attention_heads"]
        self.NKV = c["num_key_value_heads"]
        self.HD = c.get("head_dim") or c["hidden_size"] // self.NH
        self.eps = c["rms_norm_eps"]
        self.theta = c.get("rope_theta", 10000.0)
        model_type = c.get("model_type", "qwen2")
        self.qkv_bias = c.get("attention_bias", model_type == "qwen2")
        # Llama's attention_bias covers o_proj too; Qwen2/Qwen3's never does.
        self.o_bias = self.qkv_bias and model_type == "llama"
        self.qk_norm = model_type == "qwen3"
        self.scaling = c.get("rope_scaling") or {}
        if c.get("tie_word_embeddings") or "lm_head.weight" not in self.w:
            self.head = self.w["model.embed_tokens.weight"]
        else:
            self.head = self.w["lm_head.weight"]

    def rope(self, T):
        # HF default rotary embedding: inv_freq from float32 powers of theta.
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.HD, 2, dtype=torch.int64).float() / self.HD))
        kind = self.scaling.get("rope_type", self.scaling.get("type", "default"))
        scale = 1.0
        if kind == "llama3":
            inv_freq = self.llama3_scale(inv_freq)
        elif kind == "yarn":
            inv_freq, scale = self.yarn_scale()
        elif kind != "default":
            raise SystemExit(f"rope_scaling {kind!r} is not in this reference")
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * scale).to(self.dtype), (emb.sin() * scale).to(self.dtype)

    def yarn_scale(self):
        # YaRN (static, HF semantics): frequency index j is kept where it
        # turns more than beta_fast times over the original context,
        # divided by factor where it turns fewer than beta_slow times, and
        # mixed linearly in j between those two indices (rounded outwards
        # unless "truncate" is false, clamped to the head). cos and sin are
        # multiplied by attention_factor, default 1 + 0.1 ln(factor), or
        # the mscale/mscale_all_dim ratio. DeepSeek's "attn_factor" is not
        # an HF key and is ignored, as HF does.
        sc, HD = self.scaling, self.HD
        factor = sc["factor"]
        orig = sc.get("original_max_position_embeddings") or self.cfg["max_position_embeddings"]
        fast, slow = sc.get("beta_fast") or 32, sc.get("beta_slow") or 1

        def turns_index(turns):
            return HD * math.log(orig / (turns * 2 * math.pi)) / (2 * math.log(self.theta))

        lo, hi = turns_index(fast), turns_index(slow)
        if sc.get("truncate", True):
            lo, hi = math.floor(lo), math.ceil(hi)
        lo, hi = max(lo, 0), min(hi, HD - 1)
        if lo == hi:
            hi += 0.001
        mix = ((torch.arange(HD // 2, dtype=torch.float32) - lo) / (hi - lo)).clamp(0, 1)
        base = self.theta ** (torch.arange(0, HD, 2).float() / HD)
        inv_freq = (1.0 / (factor * base)) * mix + (1.0 / base) * (1 - mix)

        def mscale(s, m=1.0):
            return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

        attn = sc.get("attention_factor")
        if attn is None:
            if sc.get("mscale") and sc.get("mscale_all_dim"):
                attn = mscale(factor, sc["mscale"]) / mscale(factor, sc["mscale_all_dim"])
            else:
                attn = mscale(factor)
        return inv_freq, attn

    def llama3_scale(self, inv_freq):
        # Wavelengths longer than original/low_freq_factor: frequency / factor;
        # shorter than original/high_freq_factor: unchanged; in between, a
        # blend linear in original/wavelength.
        sc = self.scaling
        factor, low, high = sc["factor"], sc["low_freq_factor"], sc["high_freq_factor"]
        old = sc["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv_freq
        smooth = (old / wavelen - low) / (high - low)
        blended = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        out = torch.where(wavelen > old / low, inv_freq / factor, blended)
        return torch.where(wavelen < old / high, inv_freq, out)

    def forward(self, tokens):
        """Logits (T, vocab) for one sequence starting at position 0."""
        w, T = self.w, len(tokens)
        cos, sin = self.rope(T)
        h = w["model.embed_tokens.weight"][torch.tensor(tokens)]
        mask = torch.full((T, T), float("-inf"), dtype=self.dtype).triu(1)
        for i in range(self.L):
            p = f"model.layers.{i}."
            b = (lambda n: w[p + n]) if self.qkv_bias else (lambda n: None)
            x = rms_norm(h, w[p + "input_layernorm.weight"], self.eps)
            q = F.linear(x, w[p + "self_attn.q_proj.weight"], b("self_attn.q_proj.bias"))
            k = F.linear(x, w[p + "self_attn.k_proj.weight"], b("self_attn.k_proj.bias"))
            v = F.linear(x, w[p + "self_attn.v_proj.weight"], b("self_attn.v_proj.bias"))
            # (T, heads*HD) -> (heads, T, HD)
            q = q.view(T, self.NH, self.HD).transpose(0, 1)
            k = k.view(T, self.NKV, self.HD).transpose(0, 1)
            v = v.view(T, self.NKV, self.HD).transpose(0, 1)
            if self.qk_norm:
                q = rms_norm(q, w[p + "self_attn.q_norm.weight"], self.eps)
                k = rms_norm(k, w[p + "self_attn.k_norm.weight"], self.eps)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # repeat_kv: query head j reads KV head j // (NH // NKV).
            k = k.repeat_interleave(self.NH // self.NKV, dim=0)
            v = v.repeat_interleave(self.NH // self.NKV, dim=0)
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(self.HD) + mask, dim=-1)
            o = (att @ v).transpose(0, 1).reshape(T, self.NH * self.HD)
            h = h + F.linear(o, w[p + "self_attn.o_proj.weight"], w[p + "self_attn.o_proj.bias"] if self.o_bias else None)
            x = rms_norm(h, w[p + "post_attention_layernorm.weight"], self.eps)
            gate = F.linear(x, w[p + "mlp.gate_proj.weight"])
            up = F.linear(x, w[p + "mlp.up_proj.weight"])
            h = h + F.linear(F.silu(gate) * up, w[p + "mlp.down_proj.weight"])
        h = rms_norm(h, w["model.norm.weight"], self.eps)
        return F.linear(h, self.head)


def token_cases(vocab, seed):
    """A few deterministic sequences, from one token to 70."""
    rng = random.Random(seed)
    return [[rng.randrange(vocab) for _ in range(n)] for n in (1, 6, 23, 70)]


def make_golden(model_dir, seed, dtype):
    torch.set_grad_enabled(False)
    ref = Qwen2Reference(model_dir, dtype)
    cases = []
    for toks in token_cases(ref.cfg["vocab_size"], seed):
        logits = ref.forward(toks).to(torch.float32).contiguous()
        blob = struct.pack(f"<{logits.numel()}f", *logits.flatten().tolist())
        cases.append({"tokens": toks, "logits_f32le_b64": base64.b64encode(blob).decode("ascii")})
    return {
        "generator": "scripts/qwen2_reference.py (PyTorch %s, %s)" % (torch.__version__, str(dtype).replace("torch.", "")),
        "vocab_size": ref.cfg["vocab_size"],
        "cases": cases,
    }


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    n = sum(len(c["tokens"]) for c in obj["cases"])
    print(f"wrote {path}: {len(obj['cases'])} sequences, {n} positions", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="HF model directory (default: the Go tests' golden models)")
    ap.add_argument("--out", help="golden JSON to write (with --model)")
    ap.add_argument("--testdata", default="model/qwen2/testdata", help="where the default goldens go")
    ap.add_argument("--seed", type=int, default=7, help="seed of the token sequences")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--only", action="append", metavar="NAME", help="regenerate only this golden model's file (repeatable)")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)

    if args.model:
        if not args.out:
            ap.error("--model needs --out")
        write_json(args.out, make_golden(args.model, args.seed, dtype))
        return

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, RAGTUNE_GOLDEN_MODELS=tmp)
        subprocess.run(["go", "test", "./model/qwen2", "-run", "^TestWriteGoldenModels$", "-count=1"], env=env, check=True)
        with open(os.path.join(tmp, "recipes.json")) as f:
            recipes = json.load(f)
        os.makedirs(args.testdata, exist_ok=True)
        for name, recipe in sorted(recipes.items()):
            if args.only and name not in args.only:
                continue
            golden = make_golden(os.path.join(tmp, name), args.seed, dtype)
            golden["recipe"] = recipe
            write_json(os.path.join(args.testdata, f"pytorch_{name}.json"), golden)


if __name__ == "__main__":
    main()
