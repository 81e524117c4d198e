#!/usr/bin/python3
"""Independent PyTorch reference for ragtune's training code (package train).

Written from the Hugging Face Qwen2 modeling semantics and PEFT's LoRA layer,
without importing either: embedding, per layer RMSNorm -> q/k/v Linear with
bias (when the weights have one) -> [Qwen3: RMSNorm of each q and k head,
q_norm/k_norm] -> RoPE (rotate-half; Llama 3's rope_scaling "llama3" divides
long-wavelength frequencies by `factor` and blends the middle band; "yarn"
divides the slow ones, blends a band and scales cos and sin) ->
causal GQA attention -> o_proj -> residual ->
RMSNorm -> SwiGLU MLP -> residual; final norm; lm_head; cross-entropy on
labels shifted by one with ignore_index -100, mean over counted tokens.
LoRA: y = base(x) + B(A(x)) * scaling, scaling = alpha/r (alpha/sqrt(r) with
rsLoRA). AdamW is torch.optim.AdamW with param groups (no decay on biases and
norms), clip_grad_norm_, and HF's cosine schedule with warmup.

Usage (Debian python3-torch; the Go test writes the inputs first):
    go test ./train -run TestReference -update   # writes train/testdata/ref_inputs.*
    /usr/bin/python3 scripts/train_reference.py  # writes train/testdata/ref_golden.safetensors
    /usr/bin/python3 scripts/train_reference.py --adapter train/testdata/exported_adapter
        # loads the adapter ragtune exported and writes the logits it gives
    go test ./train -run TestReferenceArchs -update-archs  # ref_inputs_{llama,qwen3,qwen3-yarn}.*
    /usr/bin/python3 scripts/train_reference.py --arch llama   # ref_golden_llama.safetensors
    /usr/bin/python3 scripts/train_reference.py --arch qwen3
    /usr/bin/python3 scripts/train_reference.py --arch qwen3-yarn
The Go tests (go test ./train -run TestReference) compare against the goldens.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "train", "testdata")
torch.set_default_dtype(torch.float64)

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I32": (torch.int32, 4), "I64": (torch.int64, 8)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, size = DTYPES[info["dtype"]]
        lo, hi = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + lo : base + hi]), dtype=dt) if hi > lo else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def yarn(c, sc, HS, inv):
    """HF's _compute_yarn_parameters: returns the scaled frequencies and the
    factor cos and sin are multiplied by (so every q.k score by its square).

    Frequency j of the head keeps its value when it turns more than beta_fast
    (32) times over the original context, is divided by factor when it turns
    fewer than beta_slow (1) times, and between those two indices (floored
    and ceiled unless truncate is false, clamped to the head) moves linearly
    in j from one to the other. The attention factor is attention_factor,
    else 0.1 ln(factor) + 1, or with mscale and mscale_all_dim both set the
    ratio of that formula at each. DeepSeek's attn_factor is not an HF key.
    """
    factor = sc["factor"]
    orig = sc.get("original_max_position_embeddings")
    if orig:
        # Some HF 4.x releases take the factor from the two contexts when
        # both are set, others (and 5.x) read it: only a config where the
        # two agree has one answer.
        if c["max_position_embeddings"] != orig * factor:
            raise SystemExit(f"yarn: max_position_embeddings {c['max_position_embeddings']} is not original {orig} x factor {factor}")
    else:
        orig = c["max_position_embeddings"]
    fast, slow = sc.get("beta_fast") or 32, sc.get("beta_slow") or 1
    theta = c["rope_theta"]

    def dim_for(turns):
        return HS * math.log(orig / (turns * 2 * math.pi)) / (2 * math.log(theta))

    lo, hi = dim_for(fast), dim_for(slow)
    if sc.get("truncate", True):
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, HS - 1)
    if lo == hi:
        hi += 0.001
    ramp = ((torch.arange(HS // 2, dtype=torch.float64) - lo) / (hi - lo)).clamp(0, 1)
    inv = inv / factor * ramp + inv * (1 - ramp)

    def mscale(s, m=1.0):
        return 1.0 if s <= 1 else 0.1 * m * math.log(s) + 1.0

    attn = sc.get("attention_factor")
    if attn is None:
        if sc.get("mscale") and sc.get("mscale_all_dim"):
            attn = mscale(factor, sc["mscale"]) / mscale(factor, sc["mscale_all_dim"])
        else:
            attn = mscale(factor)
    return inv, attn


class Reference:
    def __init__(self, cfg, weights, lora=None, lora_cfg=None):
        self.cfg = cfg
        self.w = weights  # HF name -> tensor (requires_grad set by caller)
        self.lora = lora or {}  # PEFT name -> tensor
        self.lc = lora_cfg

    def linear(self, x, layer, module, bias=True):
        stem = f"model.layers.{layer}.{module}"
        b = self.w.get(stem + ".bias") if bias else None
        y = F.linear(x, self.w[stem + ".weight"], b)
        a = self.lora.get("base_model.model." + stem + ".lora_A.weight")
        if a is not None:
            bm = self.lora["base_model.model." + stem + ".lora_B.weight"]
            r = a.shape[0]
            scale = self.lc["alpha"] / (math.sqrt(r) if self.lc["rslora"] else r)
            y = y + F.linear(F.linear(x, a), bm) * scale
        return y

    def logits(self, tokens):
        c = self.cfg
        B, T = tokens.shape
        C, NH, NKV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        HS = c.get("head_dim") or C // NH
        eps = c["rms_norm_eps"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, HS, 2, dtype=torch.float64) / HS))
        sc = c.get("rope_scaling") or {}
        attn_scale = 1.0
        if sc.get("rope_type", sc.get("type")) == "llama3":
            old, lo, hi, fac = sc["original_max_position_embeddings"], sc["low_freq_factor"], sc["high_freq_factor"], sc["factor"]
            wavelen = 2 * math.pi / inv
            smooth = (old / wavelen - lo) / (hi - lo)
            mid = (1 - smooth) * inv / fac + smooth * inv
            inv = torch.where(wavelen < old / hi, inv, torch.where(wavelen > old / lo, inv / fac, mid))
        elif sc.get("rope_type", sc.get("type")) == "yarn":
            inv, attn_scale = yarn(c, sc, HS, inv)
        elif sc:
            raise SystemExit(f"rope_scaling {sc} is not in this reference")
        qk_norm = c.get("model_type") == "qwen3"
        freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos() * attn_scale, emb.sin() * attn_scale
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.w["model.embed_tokens.weight"][tokens]
        for l in range(c["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = rmsnorm(x, self.w[p + "input_layernorm.weight"], eps)
            q = self.linear(h, l, "self_attn.q_proj").view(B, T, NH, HS).transpose(1, 2)
            k = self.linear(h, l, "self_attn.k_proj").view(B, T, NKV, HS).transpose(1, 2)
            v = self.linear(h, l, "self_attn.v_proj").view(B, T, NKV, HS).transpose(1, 2)
            if qk_norm:
                q = rmsnorm(q, self.w[p + "self_attn.q_norm.weight"], eps)
                k = rmsnorm(k, self.w[p + "self_attn.k_norm.weight"], eps)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(NH // NKV, dim=1)  # HF repeat_kv
            v = v.repeat_interleave(NH // NKV, dim=1)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(HS) + mask, dim=-1)
            o = (att @ v).transpose(1, 2).reshape(B, T, NH * HS)
            x = x + self.linear(o, l, "self_attn.o_proj", bias=False)
            h = rmsnorm(x, self.w[p + "post_attention_layernorm.weight"], eps)
            g = self.linear(h, l, "mlp.gate_proj", bias=False)
            u = self.linear(h, l, "mlp.up_proj", bias=False)
            x = x + self.linear(F.silu(g) * u, l, "mlp.down_proj", bias=False)
        x = rmsnorm(x, self.w["model.norm.weight"], eps)
        head = self.w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else self.w["lm_head.weight"]
        return F.linear(x, head)

    def loss(self, tokens, labels):
        logits = self.logits(tokens)
        V = logits.shape[-1]
        # HF: shift so position t predicts labels[t+1].
        return logits, F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def cosine_lr(peak, warmup, total, k):
    if k < warmup:
        return peak * k / max(1, warmup)
    prog = (k - warmup) / max(1, total - warmup)
    return peak * max(0.0, 0.5 * (1 + math.cos(math.pi * prog)))


def run_case(name, case, cfg, inputs, out):
    cfg = dict(cfg, tie_word_embeddings=case["tied"])
    weights = {k: v.to(torch.float64) for k, v in inputs.items() if not k.startswith("base_model.") and k not in ("tokens", "labels")}
    if case["tied"]:
        weights.pop("lm_head.weight", None)
    lora = None
    if case["mode"] == "lora":
        tg = [t + "_proj" for t in case["targets"]]
        lora = {k: v.to(torch.float64) for k, v in inputs.items() if k.startswith("base_model.") and k.split(".")[-3] in tg}
        train_params = lora
    else:
        train_params = weights
    for t in train_params.values():
        t.requires_grad_(True)
    ref = Reference(cfg, weights, lora, {"alpha": case.get("alpha", 1), "rslora": case.get("rslora", False)})
    tokens, labels = inputs["tokens"].long(), inputs["labels"].long()
    logits, loss = ref.loss(tokens, labels)
    loss.backward()
    out[f"{name}/logits"] = logits.reshape(-1)
    out[f"{name}/loss"] = loss.detach().reshape(1)
    for k, t in train_params.items():
        out[f"{name}/grad/{k}"] = t.grad.detach().clone()
    print(f"{name}: loss {loss.item():.6f}, {len(train_params)} trained tensors")

    # Ten AdamW steps from the same start.
    o = case["optim"]
    decay = [t for k, t in train_params.items() if t.dim() == 2]
    no_decay = [t for k, t in train_params.items() if t.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["wd"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
    )
    losses = []
    for k in range(10):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(o["lr"], o["warmup"], 10, k)
        opt.zero_grad()
        _, loss = ref.loss(tokens, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(train_params.values()), o["clip"])
        opt.step()
        losses.append(loss.item())
    out[f"{name}/losses"] = torch.tensor(losses)
    print(f"{name}: losses {' '.join(f'{x:.6f}' for x in losses)}")


def main():
    sfx = ""
    if len(sys.argv) == 3 and sys.argv[1] == "--arch":
        sfx = "_" + sys.argv[2]
    with open(os.path.join(TESTDATA, f"ref_inputs{sfx}.json")) as f:
        spec = json.load(f)
    inputs = read_safetensors(os.path.join(TESTDATA, f"ref_inputs{sfx}.safetensors"))
    cfg = spec["config"]
    if len(sys.argv) == 3 and sys.argv[1] == "--adapter":
        d = sys.argv[2]
        with open(os.path.join(d, "adapter_config.json")) as f:
            ac = json.load(f)
        assert ac["peft_type"] == "LORA"
        lora = {k: v.to(torch.float64) for k, v in read_safetensors(os.path.join(d, "adapter_model.safetensors")).items()}
        weights = {k: v.to(torch.float64) for k, v in inputs.items() if not k.startswith("base_model.") and k not in ("tokens", "labels")}
        ref = Reference(dict(cfg, tie_word_embeddings=False), weights, lora, {"alpha": ac["lora_alpha"], "rslora": ac.get("use_rslora", False)})
        logits = ref.logits(inputs["tokens"].long())
        write_safetensors(os.path.join(TESTDATA, "ref_adapter_logits.safetensors"), {"logits": logits.reshape(-1)})
        print(f"adapter logits written ({logits.numel()} values)")
        return
    out = {}
    for name, case in spec["cases"].items():
        run_case(name, case, cfg, inputs, out)
    write_safetensors(os.path.join(TESTDATA, f"ref_golden{sfx}.safetensors"), out)


if __name__ == "__main__":
    main()
