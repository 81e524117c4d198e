// Golden ids for TestUnigramGolden (tokenizer): encodes the texts of
// scripts/unigram_texts.json with transformers.js's tokenizers (npm
// @lenml/tokenizers 3.7.2, MIT) on tokenizer/testdata/unigram_tiny/
// tokenizer.json, special tokens added.
//
//   go run scripts/unigram_tokenizer.go
//   (cd SCRATCH && npm i @lenml/tokenizers@3.7.2)
//   NODE_PATH=SCRATCH/node_modules node scripts/unigram_golden.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_PATH + "/");
const { TokenizerLoader } = require("@lenml/tokenizers");
const dir = "tokenizer/testdata/unigram_tiny";
const tokenizerJSON = JSON.parse(readFileSync(dir + "/tokenizer.json", "utf8"));
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig: { eos_token: "</s>", bos_token: "<s>", unk_token: "<unk>" } });
const texts = JSON.parse(readFileSync("scripts/unigram_texts.json", "utf8"));
const out = texts.map((text) => ({ text, ids: Array.from(tok.encode(text)) }));
writeFileSync(dir + "/golden.json", JSON.stringify(out, null, 1).replace(/\n\s+(\d+,?)/g, " $1").replace(/\n\s+\]/g, " ]") + "\n");
