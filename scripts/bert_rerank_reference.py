"""Independent PyTorch reference for BERT cross-encoders (golden for
TestCrossEncoderTorchGolden in model/bert).

Reads an HF BertForSequenceClassification directory (config.json and an F32
model.safetensors, parsed here without the safetensors package) and the
pairs.json that scripts/bert_rerank_export.go writes, and prints JSON with
each pair's ids, token types and logits, computed as transformers'
BertForSequenceClassification does in eval mode: embeddings (word +
position + token type, LayerNorm), post-LN encoder blocks with exact (erf)
GELU, pooler tanh(dense(h[CLS])), classifier.

    sh scripts/bert_rerank_golden.sh   (from the repository root)
"""
import json
import math
import struct
import sys

import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).to(torch.float64)
    return out


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def encode(cfg, W, ids, types):
    """Last hidden states. RoBERTa-family models (model_type xlm-roberta)
    number positions from pad_token_id+1, as transformers'
    create_position_ids_from_input_ids does for unpadded input."""
    C, NH = cfg["hidden_size"], cfg["num_attention_heads"]
    HD = C // NH
    eps = cfg["layer_norm_eps"]
    T = len(ids)
    roberta = cfg["model_type"] in ("xlm-roberta", "roberta")
    pre = prefix(cfg, W)
    off = cfg["pad_token_id"] + 1 if roberta else 0
    ids_t = torch.tensor(ids)
    x = W[pre + "embeddings.word_embeddings.weight"][ids_t]
    x = x + W[pre + "embeddings.position_embeddings.weight"][off:off + T]
    x = x + W[pre + "embeddings.token_type_embeddings.weight"][torch.tensor(types)]
    x = layer_norm(x, W[pre + "embeddings.LayerNorm.weight"], W[pre + "embeddings.LayerNorm.bias"], eps)
    lin = lambda p, v: v @ W[p + ".weight"].T + W[p + ".bias"]
    for l in range(cfg["num_hidden_layers"]):
        p = pre + "encoder.layer.%d." % l
        q = lin(p + "attention.self.query", x).reshape(T, NH, HD).transpose(0, 1)
        k = lin(p + "attention.self.key", x).reshape(T, NH, HD).transpose(0, 1)
        v = lin(p + "attention.self.value", x).reshape(T, NH, HD).transpose(0, 1)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(HD), dim=-1) @ v
        att = att.transpose(0, 1).reshape(T, C)
        x = layer_norm(x + lin(p + "attention.output.dense", att),
                       W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
        ff = torch.nn.functional.gelu(lin(p + "intermediate.dense", x))
        x = layer_norm(x + lin(p + "output.dense", ff),
                       W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return x


def prefix(cfg, W):
    if "embeddings.word_embeddings.weight" in W:
        return ""
    return "roberta." if cfg["model_type"] in ("xlm-roberta", "roberta") else "bert."


def logits(cfg, W, ids, types):
    x = encode(cfg, W, ids, types)
    lin = lambda p, v: v @ W[p + ".weight"].T + W[p + ".bias"]
    if "classifier.out_proj.weight" in W:  # RobertaClassificationHead
        return lin("classifier.out_proj", torch.tanh(lin("classifier.dense", x[0]))).tolist()
    pooled = torch.tanh(lin("bert.pooler.dense", x[0]))
    return lin("classifier", pooled).tolist()


def embedding(cfg, W, ids):
    """CLS pooling, L2-normalized (bge-m3 dense vectors)."""
    v = encode(cfg, W, ids, [0] * len(ids))[0]
    return (v / v.norm()).tolist()


def main():
    if len(sys.argv) == 5:  # XLM-R: cross-encoder dir, pairs, encoder dir, texts
        ce, pairs_path, enc, texts_path = sys.argv[1:]
        cfg, W = json.load(open(ce + "/config.json")), load_safetensors(ce + "/model.safetensors")
        pairs = json.load(open(pairs_path))
        for p in pairs:
            p["logits"] = logits(cfg, W, p["ids"], p["types"])
        cfg, W = json.load(open(enc + "/config.json")), load_safetensors(enc + "/model.safetensors")
        texts = json.load(open(texts_path))
        for t in texts:
            t["embedding"] = embedding(cfg, W, t["ids"])
        json.dump({"model": "tiny XLM-R (bert.TinyXLMRConfig, seed bert.TinySeed, tokenizer/testdata/unigram_tiny)",
                   "torch": torch.__version__, "pairs": pairs, "texts": texts}, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return
    model_dir, pairs_path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(model_dir + "/config.json"))
    W = load_safetensors(model_dir + "/model.safetensors")
    pairs = json.load(open(pairs_path))
    for p in pairs:
        p["logits"] = logits(cfg, W, p["ids"], p["types"])
    json.dump({"model": "tiny-rerank (bert.TinyConfig, seed bert.TinySeed, bge vocabulary, 1 label)",
               "torch": torch.__version__, "pairs": pairs}, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
