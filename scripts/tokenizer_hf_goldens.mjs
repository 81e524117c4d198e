// Encodes test strings with Hugging Face's tokenizers.js loading the R1
// tokenizer.json/tokenizer_config.json that ragtune wrote (DIR), and
// writes tokenizer/testdata/hf_reference.json: [{text, ids, ids_special}].
// Run through scripts/tokenizer_hf_goldens.sh.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.argv[2];
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const modules = process.env.HF_NODE_MODULES;
const { Tokenizer } = await import(path.join(modules, "@huggingface", "tokenizers", "dist", "tokenizers.mjs"));

const tok = new Tokenizer(
  JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
);

// Deterministic random strings over characters each regex alternative
// and the added-token matcher care about.
let seed = 12345;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const alphabet = ["a", "Z", "é", "e\u0301", "中", "文", "。", "，", "1", "23", "٣", "½", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00a0",
  "!", "...", "'", "'s", "'S", "'re", "'LL", "'ve", "'m", "'d", "'t", "🙂", "👍🏽", "-", "_", "\u200b", "ﬁ", "Å", "한국어", "ひらがな",
  "<think>", "</think>", "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<|im_start|>", "<thi", "<", ">", "$", "https://x.y/z?q=1"];
const texts = [];
for (let n = 0; n < 300; n++) {
  let s = "";
  for (let k = rand(12); k >= 0; k--) s += alphabet[rand(alphabet.length)];
  texts.push(s);
}
texts.push(
  "检索增强生成（RAG）把外部知识库与大语言模型结合起来。The quick brown fox jumps over 13 lazy dogs.",
  "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>你好<｜Assistant｜><think>\n嗯\n</think>\n\n你好！<｜end▁of▁sentence｜>",
  "def f(x):\n    return x ** 2  # square\n\n\n",
  "",
);
const out = texts.map((text) => ({
  text,
  ids: tok.encode(text, { add_special_tokens: false }).ids,
  ids_special: tok.encode(text, { add_special_tokens: true }).ids,
}));
const dest = path.join(repo, "tokenizer", "testdata", "hf_reference.json");
fs.writeFileSync(dest, JSON.stringify(out) + "\n");
console.log(`wrote ${out.length} encodings to ${path.relative(repo, dest)}`);
