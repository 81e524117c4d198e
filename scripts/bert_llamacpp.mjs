// Embeddings of the tiny random BERT models (scripts/bert_export.go)
// computed by llama.cpp through node-llama-cpp, for TestLlamaCppGolden in
// model/bert. For each text it records the token ids llama.cpp fed the
// model ([CLS] … [SEP]) and the pooled embedding (pooling chosen by the
// file's bert.pooling_type; llama.cpp does not normalize it).
//
//   node scripts/bert_llamacpp.mjs OUT.json MODEL.gguf...
//
// RAGTUNE_NODE_MODULES points at a node_modules holding node-llama-cpp
// (default /work/oracle/node_modules). Run through scripts/bert_llamacpp.sh.
import path from "node:path";
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const nm = process.env.RAGTUNE_NODE_MODULES || "/work/oracle/node_modules";
const require = createRequire(path.join(nm, "noop.js"));
const { getLlama } = await import(require.resolve("node-llama-cpp"));

const texts = [
	"Hello world",
	"Catastrophic forgetting is when fine-tuning erases what a model knew.",
	"什么是灾难性遗忘？",
	"北京是中华人民共和国的首都，也是全国的政治和文化中心。",
	"用 LoRA 微调 DeepSeek-R1 模型，rank=8，学习率 2e-4。",
	"The knowledge base splits each document into chunks of about 120 characters, embeds every chunk, " +
		"and answers a question with the chunks whose vectors lie closest to the question's vector. " +
		"检索增强生成把检索到的段落放进提示词里，让模型回答时有据可查。 Hybrid retrieval fuses BM25 and dense scores.",
	"",
];

const [out, ...models] = process.argv.slice(2);
if (!out || models.length === 0) {
	console.error("usage: node scripts/bert_llamacpp.mjs OUT.json MODEL.gguf...");
	process.exit(2);
}
const llama = await getLlama({ gpu: false, build: "never" });
const result = { oracle: "node-llama-cpp@3.21.1 (llama.cpp CPU)", models: [] };
for (const file of models) {
	const model = await llama.loadModel({ modelPath: file });
	const ctx = await model.createEmbeddingContext({ contextSize: 512, batchSize: 512 });
	const cases = [];
	for (const text of texts) {
		if (text === "") continue; // node-llama-cpp returns an empty vector for no tokens
		const ids = [model.tokens.bos, ...model.tokenize(text), model.tokens.sep];
		const emb = await ctx.getEmbeddingFor(text);
		cases.push({ text, ids, embedding: emb.vector.map((x) => Number(x.toPrecision(8))) });
	}
	result.models.push({ name: path.basename(file, ".gguf"), cases });
	await ctx.dispose();
	await model.dispose();
}
writeFileSync(out, JSON.stringify(result, null, 1) + "\n");
console.log(`wrote ${out}`);
