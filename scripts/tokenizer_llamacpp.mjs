// Tokenizes DIR/mixed.txt with llama.cpp (node-llama-cpp) using the
// vocabulary-only GGUFs DIR/{r1,bytes,trained}-vocab.gguf, writes the ids
// to DIR/llamacpp-NAME.ids and prints llama.cpp's throughput on R1's.
// Usage: NODE_PATH=<node_modules> node scripts/tokenizer_llamacpp.mjs DIR
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const dir = process.argv[2];
const modules = process.env.LLAMA_NODE_MODULES || "/work/oracle/node_modules";
const require = createRequire(path.join(modules, "noop.js"));
const { getLlama } = await import(require.resolve("node-llama-cpp"));

const llama = await getLlama({ gpu: false, build: "never" });
const text = fs.readFileSync(path.join(dir, "mixed.txt"), "utf8");
const bytes = Buffer.byteLength(text, "utf8");
for (const name of ["bytes", "trained"]) {
  const m = await llama.loadModel({ modelPath: path.join(dir, `${name}-vocab.gguf`), vocabOnly: true });
  fs.writeFileSync(path.join(dir, `llamacpp-${name}.ids`), m.tokenize(text, false).join(" ") + "\n");
  await m.dispose();
}
const model = await llama.loadModel({ modelPath: path.join(dir, "r1-vocab.gguf"), vocabOnly: true });

let ids = model.tokenize(text, false); // warm-up and the ids to compare
const reps = 5;
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
for (let i = 0; i < reps; i++) ids = model.tokenize(text, false);
const sec = Number(process.hrtime.bigint() - t0) / 1e9 / reps;
const cu = process.cpuUsage(c0);
const cpuSec = (cu.user + cu.system) / 1e6 / reps;
fs.writeFileSync(path.join(dir, "llamacpp-r1.ids"), ids.join(" ") + "\n");
console.log(`llama.cpp: ${ids.length} tokens; ${(bytes / 1e6 / sec).toFixed(2)} MB/s wall, ${(bytes / 1e6 / cpuSec).toFixed(2)} MB/cpu-s`);
