// Package llm is the one text-generation loop of ragtune: an Engine takes a
// Request (chat messages, a raw prompt or prompt tokens, sampling
// parameters, stop strings) and streams Tokens to a callback, keeping
// reasoning (<think>…</think>) apart from the answer. The CLI, eval, rag
// and the HTTP server all generate through it.
//
// It holds the sampler (greedy, temperature, top-k, top-p, min-p,
// repetition/frequency/presence penalties, seeded), stop-string and EOS
// handling, the context-length check, KV-cache reuse across turns, and the
// Local engine over an in-process model. It is not a model: forward passes
// live in model/qwen2 behind the small Model and State interfaces here, and
// tokenization in package tokenizer; chat templates live in llm/chat.
package llm
