#!/usr/bin/env python3
"""Aggregate completion throughput of an OpenAI-compatible server.

CLIENTS threads each send REQUESTS chat completions of TOKENS tokens
(temperature 0, distinct prompts so no request is a copy of another) and
the script prints the completion tokens all of them received divided by
the wall time from the first request to the last answer. The same script
measures `ragtune serve` and llama.cpp's `llama-server`
(scripts/serve_vs_llamacpp.sh runs both on one GGUF file).

    scripts/serve_throughput.py --url http://127.0.0.1:8080 --clients 8 --requests 2 --tokens 32
"""
import argparse
import json
import threading
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--label", default="")
    a = ap.parse_args()

    # Both servers name their model differently; ask which one they serve.
    with urllib.request.urlopen(a.url.rstrip("/") + "/v1/models", timeout=60) as resp:
        model = json.load(resp)["data"][0]["id"]

    done, errors = [], []
    lock = threading.Lock()

    def client(c):
        for r in range(a.requests):
            body = {
                "model": model,
                "messages": [{"role": "user", "content": f"Client {c} request {r}: say something about topic {c * 31 + r}."}],
                "max_tokens": a.tokens,
                "temperature": 0,
                # llama-server stops at its EOS; random weights rarely
                # produce it, and ignore_eos keeps both servers at TOKENS.
                "ignore_eos": True,
            }
            req = urllib.request.Request(a.url.rstrip("/") + "/v1/chat/completions",
                                         data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=1800) as resp:
                    out = json.load(resp)
                with lock:
                    done.append(out["usage"]["completion_tokens"])
            except Exception as e:  # reported, never counted
                with lock:
                    errors.append(str(e))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    toks = sum(done)
    print(json.dumps({"label": a.label, "clients": a.clients, "requests": len(done), "errors": len(errors),
                      "completion_tokens": toks, "wall_seconds": round(wall, 2),
                      "tokens_per_second": round(toks / wall, 2)}))
    if errors:
        print("errors:", errors[:3])


if __name__ == "__main__":
    main()
