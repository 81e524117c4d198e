// ragtune web page: chat over /v1/chat/completions (streamed), knowledge
// bases over /v1/kb. Every piece of server or user text goes into the page
// through textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

const i18n = {
  en: {
    reports: "Eval reports", apikey: "API key", kbs: "Knowledge bases", answerFrom: "Answer from",
    none: "— model only —", create: "Create", upload: "Upload", deleteKB: "Delete knowledge base",
    settings: "Settings", thinking: "Thinking", maxTokens: "Max tokens", temperature: "Temperature",
    newChat: "New chat", hello: "Ask anything", helloSub: "Pick a knowledge base to get answers with citations.",
    placeholder: "Message…", send: "Send", stop: "Stop", save: "Save",
    keyHint: "This server requires an API key. It is kept in this browser only.",
    reasoning: "Reasoning", reasoningLive: "Thinking…", chunks: "chunks", del: "Delete",
    uploaded: "Uploaded", duplicate: "already stored", uploading: "Uploading…", confirmKB: "Delete knowledge base {0} and all its documents?",
    noDocs: "No documents yet.", filtered: "[stopped by the content policy]", sources: "Sources",
    accepted: "Accepted: {0}; at most {1}.", chunk: "chunk", chars: "characters",
    noAnswer: "No answer: the model spent all {0} tokens thinking (</think> never came). Raise Max tokens in Settings, or turn Thinking off.",
  },
  zh: {
    reports: "评测报告", apikey: "API 密钥", kbs: "知识库", answerFrom: "回答依据",
    none: "— 仅模型 —", create: "新建", upload: "上传", deleteKB: "删除知识库",
    settings: "设置", thinking: "深度思考", maxTokens: "最大生成长度", temperature: "温度",
    newChat: "新对话", hello: "有什么可以帮你？", helloSub: "选择一个知识库，回答会附上引用来源。",
    placeholder: "输入消息…", send: "发送", stop: "停止", save: "保存",
    keyHint: "此服务器需要 API 密钥，仅保存在本浏览器中。",
    reasoning: "思考过程", reasoningLive: "思考中…", chunks: "个片段", del: "删除",
    uploaded: "已上传", duplicate: "已存在", uploading: "上传中…", confirmKB: "删除知识库 {0} 及其全部文档？",
    noDocs: "还没有文档。", filtered: "[已被内容策略拦截]", sources: "来源",
    accepted: "支持：{0}；最大 {1}。", chunk: "片段", chars: "字符",
    noAnswer: "没有回答：模型用完了全部 {0} 个 token 仍在思考（未出现 </think>）。请在设置中调大最大生成长度，或关闭深度思考。",
  },
};
let lang = localStorage.getItem("ragtune.lang") || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");
const t = (k, ...a) => (i18n[lang][k] || i18n.en[k] || k).replace(/\{(\d)\}/g, (_, n) => a[+n]);

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  $("lang").textContent = lang === "zh" ? "English" : "中文";
  uploadHint();
}

const state = { config: {}, history: [], abort: null, kb: "" };

function headers(json) {
  const h = {};
  const key = localStorage.getItem("ragtune.key");
  if (key) h["Authorization"] = "Bearer " + key;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(method, path, body) {
  const opts = { method, headers: headers(body !== undefined && !(body instanceof FormData)) };
  if (body !== undefined) opts.body = body instanceof FormData ? body : JSON.stringify(body);
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { /* empty body */ }
  if (r.status === 401) askKey();
  if (!r.ok) {
    const msg = data && data.error ? data.error.message : r.status + " " + r.statusText;
    throw new Error(msg);
  }
  return data;
}

function askKey() {
  const d = $("key-dialog");
  if (!d.open) d.showModal();
}

function status(msg, isError) {
  const el = $("kb-status");
  el.textContent = msg || "";
  el.classList.toggle("error", !!isError);
}

function fmtBytes(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KB";
  return n + " B";
}

function uploadHint() {
  const c = state.config;
  if (c.extensions) $("upload-hint").textContent = t("accepted", c.extensions.join(" "), fmtBytes(c.max_upload));
}

// ---- knowledge bases ----

async function loadKBs(select) {
  if (!state.config.kb) return;
  const sel = $("kb-select");
  const list = await api("GET", "/v1/kb");
  while (sel.options.length > 1) sel.remove(1);
  for (const kb of list.data) {
    const o = document.createElement("option");
    o.value = kb.name;
    o.textContent = kb.name + " (" + kb.documents + ")";
    sel.append(o);
  }
  if (select !== undefined) state.kb = select;
  if (![...sel.options].some((o) => o.value === state.kb)) state.kb = "";
  sel.value = state.kb;
  await showKB();
}

// showKB may be called again before its fetch returns (two quick
// selections, an upload finishing): only the latest call renders, and it
// renders the whole list at once after the await, so lists never merge.
let showGen = 0;
async function showKB() {
  const gen = ++showGen;
  const kb = state.kb;
  $("kb-panel").hidden = !kb;
  const ul = $("docs");
  if (!kb) { ul.replaceChildren(); return; }
  const docs = await api("GET", "/v1/kb/" + encodeURIComponent(kb) + "/documents");
  if (gen !== showGen) return;
  ul.replaceChildren();
  if (!docs.data.length) {
    const li = document.createElement("li");
    li.textContent = t("noDocs");
    ul.append(li);
  }
  for (const d of docs.data) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = d.name;
    name.title = d.title || d.name;
    const meta = document.createElement("small");
    meta.textContent = d.chunks + " " + t("chunks");
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = t("del");
    del.addEventListener("click", async () => {
      try {
        await api("DELETE", "/v1/kb/" + encodeURIComponent(kb) + "/documents/" + encodeURIComponent(d.id));
        await loadKBs();
      } catch (e) { status(e.message, true); }
    });
    li.append(name, meta, del);
    ul.append(li);
  }
}

$("kb-select").addEventListener("change", (e) => { state.kb = e.target.value; showKB().catch((e) => status(e.message, true)); });

$("kb-create").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("kb-name").value.trim();
  try {
    await api("POST", "/v1/kb", { name });
    $("kb-name").value = "";
    status("");
    await loadKBs(name);
  } catch (err) { status(err.message, true); }
});

$("kb-delete").addEventListener("click", async () => {
  if (!state.kb || !confirm(t("confirmKB", state.kb))) return;
  try {
    await api("DELETE", "/v1/kb/" + encodeURIComponent(state.kb));
    await loadKBs("");
  } catch (e) { status(e.message, true); }
});

$("upload-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const files = $("file").files;
  if (!files.length || !state.kb) return;
  const fd = new FormData();
  for (const f of files) fd.append("file", f, f.name);
  status(t("uploading"));
  try {
    const r = await api("POST", "/v1/kb/" + encodeURIComponent(state.kb) + "/documents", fd);
    status(t("uploaded") + ": " + r.data.map((d) => d.name + (d.status === "duplicate" ? " (" + t("duplicate") + ")" : "")).join(", "), false);
    $("file").value = "";
    await loadKBs();
  } catch (err) { status(err.message, true); }
});

// ---- chat ----

function addMessage(role) {
  $("empty").hidden = true;
  const wrap = document.createElement("div");
  wrap.className = "msg " + role;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  wrap.append(bubble);
  $("messages").append(wrap);
  return { wrap, bubble };
}

function scrollDown() {
  const m = $("messages");
  m.scrollTop = m.scrollHeight;
}

function openChunk(c) {
  $("source").hidden = false;
  $("source-title").textContent = "[" + c.index + "] " + c.source;
  const where = (c.headings && c.headings.length ? c.headings.join(" › ") + " · " : "") +
    t("chars") + " " + c.char_start + "–" + c.char_end + " · score " + c.score.toFixed(3);
  $("source-meta").textContent = where;
  $("source-text").textContent = c.text;
  // Fetch the stored chunk (the citation carries it too, as a fallback).
  api("GET", "/v1/kb/" + encodeURIComponent(c.kb) + "/chunks/" + encodeURIComponent(c.chunk_id))
    .then((r) => { $("source-text").textContent = r.text; })
    .catch(() => {});
}
$("source-close").addEventListener("click", () => { $("source").hidden = true; });

function renderCites(el, cites) {
  el.replaceChildren();
  for (const c of cites) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "cite" + (c.cited ? " cited" : "");
    b.textContent = "[" + c.index + "] " + c.source + (c.headings && c.headings.length ? " › " + c.headings[c.headings.length - 1] : "");
    b.title = c.text.slice(0, 300);
    b.addEventListener("click", () => openChunk(c));
    el.append(b);
  }
}

async function send(text) {
  const user = addMessage("user");
  user.bubble.textContent = text;
  state.history.push({ role: "user", content: text });

  const a = addMessage("assistant");
  const think = document.createElement("details");
  think.className = "think";
  think.hidden = true;
  think.open = true;
  const summary = document.createElement("summary");
  summary.textContent = t("reasoningLive");
  const thinkText = document.createElement("div");
  thinkText.className = "think-text";
  think.append(summary, thinkText);
  a.wrap.insertBefore(think, a.bubble);
  a.bubble.classList.add("cursor");
  const cites = document.createElement("div");
  cites.className = "cites";
  const stats = document.createElement("div");
  stats.className = "stats";
  a.wrap.append(cites, stats);

  const body = {
    model: state.kb ? state.config.rag_prefix + state.kb : state.config.model,
    messages: state.history.slice(-20),
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: +$("max-tokens").value || 512,
    temperature: +$("temperature").value,
  };
  if (!$("think").checked) body.chat_template_kwargs = { enable_thinking: false };

  state.abort = new AbortController();
  $("send").hidden = true;
  $("stop").hidden = false;
  let answer = "", reasoning = "", finish = "", usage = null;
  const t0 = performance.now();
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(true), body: JSON.stringify(body), signal: state.abort.signal,
    });
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try { msg = (await r.json()).error.message; } catch (_) { /* not JSON */ }
      if (r.status === 401) askKey();
      throw new Error(msg);
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.citations) renderCites(cites, chunk.citations);
          if (chunk.usage) usage = chunk.usage;
          a.wrap.dataset.chunks = String(+(a.wrap.dataset.chunks || 0) + 1);
          for (const ch of chunk.choices || []) {
            const d = ch.delta || {};
            if (d.reasoning_content) {
              reasoning += d.reasoning_content;
              think.hidden = false;
              thinkText.textContent = reasoning;
            }
            if (d.content) {
              if (!answer && reasoning) { think.open = false; summary.textContent = t("reasoning"); }
              answer += d.content;
              a.bubble.textContent = answer;
            }
            if (ch.finish_reason) finish = ch.finish_reason;
          }
          scrollDown();
        }
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") {
      a.wrap.classList.add("error");
      a.bubble.textContent = (answer ? answer + "\n\n" : "") + e.message;
    }
  } finally {
    a.bubble.classList.remove("cursor");
    summary.textContent = t("reasoning");
    if (finish === "content_filter") a.bubble.textContent = answer + (answer ? "\n" : "") + t("filtered");
    // The reasoning never closed: say so instead of leaving an empty reply.
    if (finish === "length" && !answer && reasoning) {
      a.wrap.classList.add("no-answer");
      a.bubble.textContent = t("noAnswer", usage ? usage.completion_tokens : body.max_tokens);
    }
    const secs = (performance.now() - t0) / 1000;
    if (usage) stats.textContent = usage.completion_tokens + " tokens · " + (usage.completion_tokens / secs).toFixed(1) + " tok/s · " + (finish || "stopped");
    state.history.push({ role: "assistant", content: answer });
    state.abort = null;
    a.wrap.dataset.done = "1";
    $("send").hidden = false;
    $("stop").hidden = true;
    scrollDown();
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text || state.abort) return;
  $("input").value = "";
  $("input").style.height = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("input").addEventListener("input", (e) => {
  e.target.style.height = "";
  e.target.style.height = Math.min(e.target.scrollHeight, 240) + "px";
});
$("stop").addEventListener("click", () => { if (state.abort) state.abort.abort(); });
$("clear").addEventListener("click", () => {
  state.history = [];
  for (const m of [...document.querySelectorAll(".msg")]) m.remove();
  $("empty").hidden = false;
});
$("lang").addEventListener("click", () => {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("ragtune.lang", lang);
  applyLang();
});
$("key-btn").addEventListener("click", askKey);
$("key-form").addEventListener("submit", () => {
  localStorage.setItem("ragtune.key", $("key-input").value.trim());
  loadKBs().catch((e) => status(e.message, true));
});

async function init() {
  applyLang();
  state.config = await (await fetch("/api/config")).json();
  $("model").textContent = state.config.model;
  $("reports-link").hidden = !state.config.reports;
  $("key-btn").hidden = !state.config.auth;
  if (!state.config.kb) $("kb-select").disabled = true;
  uploadHint();
  if (state.config.auth && !localStorage.getItem("ragtune.key")) askKey();
  else await loadKBs().catch((e) => status(e.message, true));
  document.body.dataset.ready = "1";
}
init();
