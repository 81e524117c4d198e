#!/usr/bin/env node
// llama.cpp goldens and speed figures for model/qwen2, through node-llama-cpp.
//
// Goldens (from the repository root; needs Go, node, and ../shared/data for
// the Qwen2.5 tokenizer):
//
//   node scripts/qwen2_llamacpp.mjs golden [--arch llama3|qwen3|qwen3-yarn]
//
// asks the Go test TestWriteGoldenModels to write the tiny model with R1's
// vocabulary and its F32 GGUF export (package gguf, as `ragtune model convert`
// writes it) into a temp dir, loads that GGUF in llama.cpp, and writes
// model/qwen2/testdata/llamacpp_tiny-qwen.json: for each prompt (Chinese,
// English, R1 chat format) its llama.cpp token ids, the 50 most likely next
// tokens with probabilities, and the 32-token greedy continuation.
// With --arch llama3 or qwen3 it does the same for the tiny Llama 3 model
// with the Llama 3 vocabulary (../shared/data/llama3-tokenizer) or the tiny
// Qwen3 model with Qwen3's, into llamacpp_tiny-ARCH.json; Qwen3 needs a
// node-llama-cpp whose llama.cpp knows qwen3 (3.22.1 does; 3.21.1 was used
// for the Qwen2 golden): RAGTUNE_NODE_MODULES=/path/to/node_modules.
// --arch qwen3-yarn is the tiny Qwen3 with DeepSeek-R1-0528-Qwen3's YaRN
// rope_scaling (preset tiny-qwen3-yarn), which llama.cpp reads from the
// qwen3.rope.scaling.* keys WriteGGUF writes.
// `golden --model FILE.gguf --out FILE [--prompts llama3|qwen3]` runs on a
// GGUF you already have (default prompts: R1's format).
//
// Speed (prompt of N random tokens, then M greedy tokens):
//
//   node scripts/qwen2_llamacpp.mjs bench --model FILE.gguf [--threads 2] [--prompt 128] [--gen 32] [--mmap false]
//
// node-llama-cpp is imported from $RAGTUNE_NODE_MODULES (default
// /work/oracle/node_modules); to install it elsewhere, in a scratch folder:
//   npm i --omit=optional node-llama-cpp@3.21.1 @node-llama-cpp/linux-x64@3.21.1
//
// Goldens use an F32 KV cache and no flash attention: llama.cpp's CPU flash
// attention path rounds through F16 and moves logits by ~4e-3, which would
// measure llama.cpp's shortcuts rather than our forward pass. Benchmarks use
// llama.cpp's defaults (F16 KV cache, flash attention auto), what its users get.

import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {pathToFileURL} from "node:url";

const nodeModules = process.env.RAGTUNE_NODE_MODULES || "/work/oracle/node_modules";
const nlcVersion = JSON.parse(fs.readFileSync(path.join(nodeModules, "node-llama-cpp", "package.json"), "utf8")).version;
const {getLlama} = await import(pathToFileURL(path.join(nodeModules, "node-llama-cpp", "dist", "index.js")).href);

const BOS = "<｜begin▁of▁sentence｜>";
const chat = (user) => `${BOS}<｜User｜>${user}<｜Assistant｜><think>\n`;

// Prompts as the engine sees them: raw text, special tokens spelled out.
const PROMPTS = [
  {name: "zh", text: BOS + "人工智能是计算机科学的一个分支，它企图了解智能的实质，"},
  {name: "en", text: BOS + "The quick brown fox jumps over the lazy dog because"},
  {name: "chat-zh", text: chat("什么是灾难性遗忘？请简要回答。")},
  {name: "chat-en", text: chat("Explain LoRA fine-tuning in one sentence.")},
  {name: "chat-multiturn", text: `${BOS}<｜User｜>你好<｜Assistant｜>你好！有什么可以帮你？<｜end▁of▁sentence｜><｜User｜>Where is Beijing?<｜Assistant｜><think>\n`},
  {name: "code-mixed", text: BOS + 'def fib(n):\n    """返回第 n 个斐波那契数 (Fibonacci)."""\n'},
];
// The Llama 3 and Qwen3 models' prompts, in their vocabularies' formats.
const L3 = "<|begin_of_text|>";
const l3chat = (user) => `${L3}<|start_header_id|>user<|end_header_id|>\n\n${user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;
const q3chat = (user) => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
const ARCH_PROMPTS = {
  llama3: [
    {name: "zh", text: L3 + "人工智能是计算机科学的一个分支，它企图了解智能的实质，"},
    {name: "en", text: L3 + "The quick brown fox jumps over the lazy dog because 12345 + 678 = "},
    {name: "chat-en", text: l3chat("Explain LoRA fine-tuning in one sentence.")},
    {name: "chat-zh", text: l3chat("什么是灾难性遗忘？请简要回答。")},
    {name: "code-mixed", text: L3 + 'def fib(n):\n    """返回第 n 个斐波那契数 (Fibonacci)."""\n'},
  ],
  qwen3: [
    {name: "zh", text: "人工智能是计算机科学的一个分支，它企图了解智能的实质，"},
    {name: "en", text: "The quick brown fox jumps over the lazy dog because"},
    {name: "chat-think", text: q3chat("Explain LoRA fine-tuning in one sentence.")},
    {name: "chat-no-think", text: q3chat("什么是灾难性遗忘？") + "<think>\n\n</think>\n\n"},
    {name: "code-mixed", text: 'def fib(n):\n    """返回第 n 个斐波那契数 (Fibonacci)."""\n'},
  ],
};
const TOP = 50;
const GREEDY = 32;

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  const opts = {mode};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith("--")) throw new Error(`unexpected argument ${rest[i]}`);
    opts[rest[i].slice(2)] = rest[i + 1];
  }
  return opts;
}

// sorted returns a probability map as [token, p] pairs, most likely first,
// and the sum of all probabilities (llama.cpp normalizes with a float32
// sum over the whole vocabulary, which can be off by ~5e-4).
function sorted(probabilities) {
  const pairs = [...probabilities.entries()];
  let sum = 0;
  for (const [, p] of pairs) sum += p;
  pairs.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return {pairs, sum};
}

async function golden(modelPath, outPath, recipe, prompts = PROMPTS) {
  const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
  const model = await llama.loadModel({modelPath, gpuLayers: 0});
  const ctx = await model.createContext({
    contextSize: 256, threads: 2, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
  });
  const cases = [];
  for (const {name, text} of prompts) {
    const seq = ctx.getSequence();
    const tokens = [...model.tokenize(text, true)];
    const greedy = [];
    const greedyProb = [];
    let next = null;
    for await (const out of seq.evaluateWithMetadata(tokens, {probabilities: true}, {temperature: 0})) {
      const {pairs, sum} = sorted(out.probabilities);
      if (next === null) {
        next = {sum, top: pairs.slice(0, TOP).map(([id, p]) => [id, p / sum])};
      }
      if (out.token !== pairs[0][0]) throw new Error(`${name}: greedy token ${out.token} is not the most likely ${pairs[0][0]}`);
      greedy.push(out.token);
      greedyProb.push(pairs[0][1] / sum);
      if (greedy.length === GREEDY) break;
    }
    await seq.dispose(); // async in newer node-llama-cpp: the next prompt needs the sequence back
    cases.push({name, text, tokens, next, greedy, greedy_prob: greedyProb});
    console.error(`${name}: ${tokens.length} prompt tokens, top-1 ${next.top[0][0]} p=${next.top[0][1].toFixed(4)}, greedy ${greedy.slice(0, 8).join(" ")} …`);
  }
  const out = {
    generator: `scripts/qwen2_llamacpp.mjs (node-llama-cpp ${nlcVersion}, CPU, F32 weights and KV cache, no flash attention)`,
    note: "probabilities are llama.cpp's divided by their sum over the vocabulary",
    recipe,
    cases,
  };
  fs.writeFileSync(outPath, JSON.stringify(out, null, 1) + "\n");
  console.error(`wrote ${outPath}`);
  await model.dispose();
}

async function bench(modelPath, threads, promptLen, genLen, useMmap) {
  const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
  const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap});
  const ctx = await model.createContext({contextSize: promptLen + genLen + 8, threads, batchSize: promptLen});
  const seq = ctx.getSequence();
  // Deterministic ordinary tokens (no specials), like a real prompt's.
  const tokens = [];
  let x = 12345;
  for (let i = 0; i < promptLen; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    tokens.push(1000 + (x % 100000));
  }
  // CPU time (all of the process's threads) as well as wall time: on a
  // shared machine tokens per CPU-second is the steadier figure.
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  const t0 = performance.now(), c0 = cpu();
  let tFirst = 0, cFirst = 0;
  let n = 0;
  for await (const _ of seq.evaluate(tokens, {temperature: 0})) {
    if (n === 0) { tFirst = performance.now(); cFirst = cpu(); }
    if (++n > genLen) break;
  }
  const tEnd = performance.now(), cEnd = cpu();
  const res = {
    model: modelPath, threads, mmap: useMmap,
    prompt_tokens: promptLen, prefill_tok_s: promptLen / ((tFirst - t0) / 1000), prefill_tok_cpu_s: promptLen / (cFirst - c0),
    gen_tokens: genLen, decode_tok_s: genLen / ((tEnd - tFirst) / 1000), decode_tok_cpu_s: genLen / (cEnd - cFirst),
  };
  console.log(JSON.stringify(res));
  await model.dispose();
}

const opts = parseArgs(process.argv.slice(2));
if (opts.mode === "golden") {
  if (opts.model) {
    if (!opts.out) throw new Error("golden --model needs --out");
    if (opts.prompts && !ARCH_PROMPTS[opts.prompts]) throw new Error(`--prompts ${opts.prompts}: use llama3 or qwen3 (default: R1's)`);
    await golden(opts.model, opts.out, null, opts.prompts ? ARCH_PROMPTS[opts.prompts] : PROMPTS);
  } else {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "qwen2-golden-"));
    try {
      execFileSync("go", ["test", "./model/qwen2", "-run", "^TestWriteGoldenModels$", "-count=1"], {
        stdio: "inherit", env: {...process.env, RAGTUNE_GOLDEN_MODELS: tmp},
      });
      const arch = opts.arch || "";
      // qwen3-yarn: the Qwen3 model with R1-0528's YaRN scaling, on Qwen3's prompts.
      const prompts = ARCH_PROMPTS[arch.replace(/-yarn$/, "")];
      if (arch && !prompts) throw new Error(`--arch ${arch}: use llama3, qwen3 or qwen3-yarn`);
      const sfx = arch ? "-" + arch : "";
      const name = arch ? "tiny-" + arch : "tiny-qwen";
      const recipe = JSON.parse(fs.readFileSync(path.join(tmp, `llamacpp-recipe${sfx}.json`), "utf8"));
      await golden(path.join(tmp, name + ".gguf"), path.join("model", "qwen2", "testdata", `llamacpp_${name}.json`), recipe, arch ? prompts : PROMPTS);
    } finally {
      fs.rmSync(tmp, {recursive: true, force: true});
    }
  }
} else if (opts.mode === "bench") {
  if (!opts.model) throw new Error("bench needs --model FILE.gguf");
  await bench(opts.model, Number(opts.threads || 2), Number(opts.prompt || 128), Number(opts.gen || 32), opts.mmap !== "false");
} else {
  console.error("usage: qwen2_llamacpp.mjs golden [--model FILE.gguf --out FILE] | bench --model FILE.gguf [--threads N] [--prompt N] [--gen N] [--mmap false]");
  process.exit(2);
}
