// Renders conversations with the shared DeepSeek-R1-Distill and Qwen2.5
// chat templates through @huggingface/jinja (the Jinja engine of
// transformers.js, trim_blocks and lstrip_blocks on, as transformers
// renders chat templates) and writes llm/chat/testdata/jinja_reference.json,
// an independent reference for llm/chat's tests.
//
//   node scripts/tokenizer_chat_goldens.mjs
//
// LLAMA_NODE_MODULES: a node_modules holding @huggingface/jinja (it comes
// with node-llama-cpp; default /work/oracle/node_modules).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const modules = process.env.LLAMA_NODE_MODULES || "/work/oracle/node_modules";
const require = createRequire(path.join(modules, "noop.js"));
const { Template } = await import(require.resolve("@huggingface/jinja"));

const shared = path.join(repo, "..", "shared", "data", "tokenizer-tests");
const templates = {
  r1: { file: "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", bos: "<｜begin▁of▁sentence｜>", eos: "<｜end▁of▁sentence｜>" },
  qwen: { file: "Qwen-Qwen2.5-7B-Instruct.jinja", bos: "", eos: "<|im_end|>" },
};

const u = (content) => ({ role: "user", content });
const a = (content) => ({ role: "assistant", content });
const s = (content) => ({ role: "system", content });
const tool = (content) => ({ role: "tool", content });
const conversations = [
  [u("hi")],
  [s("你是一个乐于助人的助手。"), u("什么是检索增强生成？")],
  [u("a"), a("<think>\nr1\n</think>\n\nb"), u("c"), a("<think>r2</think>d"), u("e")],
  [u("x"), a("no think tag at all")],
  [u("x"), a("</think>")],
  [u("x"), a("")],
  [u(""), a("y")],
  [s("one"), s("two"), u("q")],
  [u("q"), s("late system")],
  [u("q"), tool("r1"), tool("r2"), tool("r3"), a("done"), u("again"), tool("r4"), a("ok")],
  [u("q"), tool("only")],
  [u("line1\nline2\n\n  indented\t"), a("  spaced  \n")],
  [u("emoji 🙂 and <b>html</b> & \"quotes\" 'single'")],
  [a("assistant first")],
];

const out = [];
for (const [name, t] of Object.entries(templates)) {
  const tpl = new Template(fs.readFileSync(path.join(shared, t.file), "utf8"));
  for (const messages of conversations) {
    for (const gen of [true, false]) {
      const output = tpl.render({ messages, add_generation_prompt: gen, bos_token: t.bos, eos_token: t.eos });
      out.push({ template: name, messages, add_generation_prompt: gen, output });
    }
  }
}
// Tool definitions, rendered by the Qwen2.5 template through tojson. Keys
// are written in sorted order: Go maps have none, and llm/chat sorts them.
const tools = [
  { function: { description: "Get the weather: \"now\" or later", name: "get_weather",
    parameters: { properties: { city: { description: "城市", type: "string" }, days: { maximum: 7, type: "integer" }, temp: { default: 21.5, type: "number" } },
      required: ["city"], type: "object" } }, type: "function" },
  { function: { name: "no_params", parameters: {} }, type: "function" },
];
{
  const t = templates.qwen;
  const tpl = new Template(fs.readFileSync(path.join(shared, t.file), "utf8"));
  for (const messages of [[u("weather in 北京?")], [s("Use tools."), u("q"), tool("r"), a("done")]]) {
    const output = tpl.render({ messages, tools, add_generation_prompt: true, bos_token: t.bos, eos_token: t.eos });
    out.push({ template: "qwen", messages, tools, add_generation_prompt: true, output });
  }
}
const dest = path.join(repo, "llm", "chat", "testdata", "jinja_reference.json");
fs.writeFileSync(dest, JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${out.length} renderings to ${path.relative(repo, dest)}`);
