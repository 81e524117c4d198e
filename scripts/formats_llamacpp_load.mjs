// Checks that llama.cpp loads and evaluates a GGUF file written by
// `ragtune model convert`, and prints what it saw (architecture, sizes,
// vocabulary, tokenization, a greedy next token and its probability).
//
//   go run ./cmd/ragtune model init --preset tiny --out /tmp/tiny
//   go run ./cmd/ragtune model convert --model /tmp/tiny --out /tmp/tiny.gguf
//   NODE_LLAMA_CPP_MODULES=/work/oracle/node_modules node scripts/formats_llamacpp_load.mjs /tmp/tiny.gguf
//
// NODE_LLAMA_CPP_MODULES is a node_modules folder holding node-llama-cpp@3.21.1
// and @node-llama-cpp/linux-x64@3.21.1 (install with
// `npm i --omit=optional node-llama-cpp@3.21.1 @node-llama-cpp/linux-x64@3.21.1`).
// Exits non-zero if llama.cpp refuses the file or its outputs are not finite.
import path from "node:path";
import { pathToFileURL } from "node:url";

const modelPath = process.argv[2];
if (!modelPath) {
  console.error("usage: node scripts/formats_llamacpp_load.mjs MODEL.gguf");
  process.exit(2);
}
const modules = process.env.NODE_LLAMA_CPP_MODULES ?? "/work/oracle/node_modules";
const { getLlama, LlamaLogLevel } = await import(
  pathToFileURL(path.join(modules, "node-llama-cpp", "dist", "index.js")).href
);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.warn });
const model = await llama.loadModel({ modelPath });
const info = {
  trainContextSize: model.trainContextSize,
  embeddingVectorSize: model.embeddingVectorSize,
  vocabularyType: model.tokenizer ? undefined : undefined,
  fileInfo: {
    architecture: model.fileInfo.metadata?.general?.architecture,
    tensorCount: model.fileInfo.tensorCount,
  },
  tokens: { bos: model.tokens.bos, eos: model.tokens.eos },
};
console.log(JSON.stringify(info));

const text = "Hello, 世界! <think>";
const ids = model.tokenize(text, true);
console.log("tokenize", JSON.stringify(text), "->", JSON.stringify(ids));
console.log("detokenize ->", JSON.stringify(model.detokenize(ids)));

const ctx = await model.createContext({ contextSize: 64, threads: 2 });
const seq = ctx.getSequence();
const prompt = model.tokenize("<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>", true);
let steps = 0;
for await (const step of seq.evaluateWithMetadata(prompt, { probabilities: true }, { temperature: 0 })) {
  const probs = [...step.probabilities.entries()].sort((a, b) => b[1] - a[1]);
  const total = probs.reduce((s, [, p]) => s + p, 0);
  if (!probs.every(([, p]) => Number.isFinite(p)) || Math.abs(total - 1) > 1e-3) {
    console.error("non-finite or unnormalized probabilities", total);
    process.exit(1);
  }
  console.log(`step ${steps}: token ${step.token}, p=${probs[0][1].toFixed(5)}, top3 ${JSON.stringify(probs.slice(0, 3))}`);
  if (++steps >= 4) break;
}
await ctx.dispose();
await model.dispose();
console.log("OK: llama.cpp loaded and evaluated", modelPath);
