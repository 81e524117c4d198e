package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ragtune/internal/weaviatetest"
)

// TestWeaviateKBCommands drives a Weaviate-backed knowledge base through
// the commands a user runs: ingest --store weaviate, ask --json (the same
// ranked sources as an embedded knowledge base of the same files), kb
// stats naming the store, kb list, a re-ingest that needs no store flags,
// the usage errors of the store flags, and kb delete dropping the
// collection.
func TestWeaviateKBCommands(t *testing.T) {
	url := weaviatetest.Start(t)
	src := t.TempDir()
	files := map[string]string{
		"quant.md":   "# 量化\n\nQ8_0 把每 32 个权重存成一个缩放因子和 32 个字节。\n",
		"forget.txt": "灾难性遗忘是指模型在学习新领域时丢失原有能力。",
		"raft.txt":   "Raft replicates a log from a leader to followers; a write commits once a majority stores it.",
		"lora.txt":   "LoRA 用两个低秩矩阵近似权重更新，只训练很少的参数。",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "kbs")
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "emb", "--kb-dir", root, "--quiet", src); code != 0 {
		t.Fatalf("embedded ingest: %d %s", code, stderr)
	}
	code, _, stderr := runCaptured(t, "ingest", "--kb", "wv", "--kb-dir", root, "--quiet", "--store", "weaviate", "--weaviate-url", url, src)
	if code != 0 || !strings.Contains(stderr, "4 added") || !strings.Contains(stderr, "Ragtune_wv") {
		t.Fatalf("weaviate ingest: %d %s", code, stderr)
	}
	type hit struct {
		Source string `json:"source"`
		Text   string `json:"text"`
	}
	ask := func(kb, q string) []hit {
		t.Helper()
		code, out, stderr := runCaptured(t, "ask", "--kb", kb, "--kb-dir", root, "--json", "--top-k", "2", q)
		var hits []hit
		if code != 0 || json.Unmarshal([]byte(out), &hits) != nil || len(hits) == 0 {
			t.Fatalf("ask --kb %s %q: %d %s %s", kb, q, code, out, stderr)
		}
		return hits
	}
	for q, want := range map[string]string{"什么是灾难性遗忘": "forget.txt", "缩放因子": "quant.md", "leader majority": "raft.txt", "低秩矩阵": "lora.txt"} {
		w, e := ask("wv", q), ask("emb", q)
		if filepath.Base(w[0].Source) != want || w[0].Source != e[0].Source || w[0].Text != e[0].Text {
			t.Errorf("%q: weaviate %+v, embedded %+v; want %s first", q, w[0], e[0], want)
		}
	}
	// eval retrieval scores both the same way.
	qdir := t.TempDir()
	os.WriteFile(filepath.Join(qdir, "queries.jsonl"), []byte(`{"_id":"q1","text":"什么是灾难性遗忘"}
{"_id":"q2","text":"缩放因子"}
{"_id":"q3","text":"leader majority"}
`), 0o644)
	os.WriteFile(filepath.Join(qdir, "qrels.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\tforget.txt\t1\nq2\tquant.md\t1\nq3\traft.txt\t1\n"), 0o644)
	evalJSON := func(kb string) string {
		t.Helper()
		code, out, stderr := runCaptured(t, "eval", "retrieval", "--kb", kb, "--kb-dir", root, "--queries", filepath.Join(qdir, "queries.jsonl"), "--qrels", filepath.Join(qdir, "qrels.tsv"), "--json")
		if code != 0 {
			t.Fatalf("eval retrieval --kb %s: %d %s", kb, code, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("eval retrieval --kb %s: %v in %s", kb, err, out)
		}
		for _, k := range []string{"kb", "name", "dir", "elapsed_s", "seconds"} {
			delete(m, k)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	w, e := evalJSON("wv"), evalJSON("emb")
	t.Logf("eval retrieval: %s", w)
	if w != e || !strings.Contains(w, `"recall@1":1,`) {
		t.Errorf("eval retrieval: weaviate %s, embedded %s", w, e)
	}
	code, out, _ := runCaptured(t, "kb", "stats", "wv", "--kb-dir", root)
	if code != 0 || !strings.Contains(out, "store           weaviate") || !strings.Contains(out, "4 objects in the collection") {
		t.Errorf("kb stats: %d %s", code, out)
	}
	code, out, _ = runCaptured(t, "kb", "list", "--kb-dir", root)
	if code != 0 || !strings.Contains(out, "weaviate") || !strings.Contains(out, "embedded") {
		t.Errorf("kb list: %d %s", code, out)
	}
	// Later ingests find the store in the record.
	os.Remove(filepath.Join(src, "lora.txt"))
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "wv", "--kb-dir", root, "--quiet", src); code != 0 || !strings.Contains(stderr, "1 removed") {
		t.Fatalf("re-ingest: %d %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--store", "embedded"},
		{"--store", "weaviate", "--weaviate-url", url, "--replication", "3"},
		{"--weaviate-url", url},
		{"--store", "nosuch"},
	} {
		a := append([]string{"ingest", "--kb", "wv", "--kb-dir", root, "--quiet"}, args...)
		if code, _, stderr := runCaptured(t, append(a, src)...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	if code, _, stderr := runCaptured(t, "ingest", "--kb", "new", "--kb-dir", root, "--store", "weaviate", src); code != 2 || !strings.Contains(stderr, "--weaviate-url") {
		t.Errorf("--store weaviate without a URL: %d %s", code, stderr)
	}
	if code, _, stderr := runCaptured(t, "kb", "delete", "wv", "--kb-dir", root); code != 0 {
		t.Fatalf("kb delete: %d %s", code, stderr)
	}
	resp, err := http.Get(url + "/v1/schema/Ragtune_wv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("collection after kb delete: HTTP %d, want 404", resp.StatusCode)
	}
}
