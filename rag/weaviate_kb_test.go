package rag

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ragtune/internal/weaviatetest"
)

// kbCorpus is a small mixed Chinese/English corpus with one clearly
// matching file per query of kbQueries.
var kbCorpus = map[string]string{
	"forget.txt":   "灾难性遗忘是指神经网络在学习新任务时忘记旧任务知识的现象。持续学习方法试图缓解灾难性遗忘。",
	"lora.md":      "# LoRA\n\nLoRA 用两个低秩矩阵近似权重更新，只训练很少的参数。秩 r 决定可训练参数的数量。",
	"rag.html":     "<title>检索增强生成</title><p>检索增强生成先从知识库中检索相关段落，再让模型根据段落回答问题并给出引用。</p>",
	"quant.txt":    "Quantization stores weights in 8-bit or 4-bit blocks with one scale per block, so the model needs less memory bandwidth.",
	"hnsw.txt":     "HNSW is a graph index for approximate nearest neighbour search: each layer is a proximity graph and search descends greedily.",
	"tokenize.md":  "# 分词\n\n中文分词把连续的汉字切分成词语，BM25 检索依赖分词的质量。",
	"raft.txt":     "Raft is a consensus algorithm: a leader replicates a log to followers, and a write commits once a majority stores it.",
	"sampling.txt": "Temperature and top-p sampling control how random the generated tokens are; temperature 0.6 is recommended for reasoning models.",
	"guard.txt":    "敏感词过滤和个人信息脱敏作用于进入和离开系统的每一个字段。",
	"bm25.txt":     "BM25 ranks documents by term frequency saturation (k1) and document length normalisation (b).",
}

var kbQueries = map[string]string{
	"什么是灾难性遗忘":                      "forget.txt",
	"低秩矩阵 训练参数":                     "lora.md",
	"检索增强生成如何回答问题":                  "rag.html",
	"4-bit quantization memory":     "quant.txt",
	"approximate nearest neighbour": "hnsw.txt",
	"中文分词":                          "tokenize.md",
	"raft leader majority":          "raft.txt",
	"temperature sampling":          "sampling.txt",
	"敏感词过滤":                         "guard.txt",
	"BM25 length normalisation":     "bm25.txt",
}

// weaviateKBPair ingests src into an embedded knowledge base and a
// Weaviate-backed one, both with the hash embedder's vectors.
func weaviateKBPair(t *testing.T, url, src string, replication int) (embedded, remote *Store) {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	for i, rc := range []*RemoteConfig{nil, {Kind: StoreWeaviate, URL: url, Replication: replication}} {
		name := fmt.Sprintf("kb%d", i)
		set := KBSettings{Name: name, ChunkSize: 60, Overlap: 10, Store: rc, Embedding: &EmbeddingConfig{Model: "hash"}}
		cfg := set.Config()
		cfg.Embedding.Dim = 64
		if rc != nil { // the server is shared: drop what an earlier run (-count) left
			w, err := newWeaviate(WeaviateConfig{URL: url, Class: cfg.Store.Class})
			if err == nil {
				err = w.Drop(ctx)
			}
			if err != nil {
				t.Fatalf("drop %s: %v", cfg.Store.Class, err)
			}
		}
		st, err := CreateStore(filepath.Join(root, name), cfg)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		st, err = OpenStore(filepath.Join(root, name), hashEmbedder(64), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.Ingest(ctx, []string{src}, IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			embedded = st
		} else {
			remote = st
		}
	}
	return embedded, remote
}

func writeCorpus(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sources(res []Result) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = filepath.Base(r.Chunk.Source)
	}
	return out
}

// TestWeaviateKB checks a Weaviate-backed knowledge base against an
// embedded one built from the same files: the same top hit for every
// query in BM25 and hybrid mode, chunks returned whole (text, spans), the
// same counts, incremental re-ingest, stale chunks removed when a file
// shrinks or goes, a reopened record that still searches, the reranker,
// and a resumed ingest after a crash between the remote write and the
// local commit.
func TestWeaviateKB(t *testing.T) {
	url := weaviatetest.Shared(t)
	ctx := context.Background()
	src := t.TempDir()
	writeCorpus(t, src, kbCorpus)
	emb, wv := weaviateKBPair(t, url, src, 0)

	if got, want := wv.Stats(), emb.Stats(); got.Docs != want.Docs || got.Chunks != want.Chunks || got.Chars != want.Chars || got.Store != StoreWeaviate || want.Store != StoreEmbedded {
		t.Fatalf("weaviate stats %+v, embedded %+v", got, want)
	}
	if n, ok, err := wv.RemoteCount(ctx); err != nil || !ok || n != emb.Stats().Chunks {
		t.Fatalf("RemoteCount = %d, %v, %v; want %d chunks", n, ok, err, emb.Stats().Chunks)
	}
	for _, mode := range []Mode{ModeBM25, ModeHybrid} {
		for q, want := range kbQueries {
			er, err := emb.Search(ctx, Query{Text: q, K: 3, Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			wr, err := wv.Search(ctx, Query{Text: q, K: 3, Mode: mode})
			if err != nil {
				t.Fatalf("%s %q: %v", mode, q, err)
			}
			if len(wr) == 0 || len(er) == 0 || filepath.Base(wr[0].Chunk.Source) != want || filepath.Base(er[0].Chunk.Source) != want {
				t.Errorf("%s %q: weaviate %v, embedded %v, want %s first", mode, q, sources(wr), sources(er), want)
				continue
			}
			// The hit comes back whole: the chunk the embedded store holds
			// under the same ID.
			w := wr[0].Chunk
			d, _ := emb.Doc(w.Source)
			if d == nil || w.Index >= len(d.Chunks) || wr[0].ID != chunkID(w.Source, w.Index) {
				t.Fatalf("%s %q: hit %s (%+v) not in the embedded store", mode, q, wr[0].ID, w)
			}
			if e := d.Chunks[w.Index]; w.Text != e.Text || w.Title != e.Title || w.CharStart != e.CharStart || w.CharEnd != e.CharEnd || w.ByteStart != e.ByteStart || w.ByteEnd != e.ByteEnd || !slices.Equal(w.Headings, e.Headings) {
				t.Errorf("%s %q: weaviate chunk %+v, embedded %+v", mode, q, w, e)
			}
		}
	}
	c, n, ok, err := wv.Chunk(ctx, filepath.Join(src, "lora.md"), 0)
	if err != nil || !ok || n < 1 || !strings.Contains(c.Text, "LoRA") {
		t.Fatalf("Chunk(lora.md, 0) = %+v, %d, %v, %v", c, n, ok, err)
	}

	// A reranker reorders the candidates from the text Weaviate returned.
	prefer := func(ctx context.Context, q string, docs []string) ([]float64, error) {
		out := make([]float64, len(docs))
		for i, d := range docs {
			if strings.Contains(strings.ToLower(d), "raft") {
				out[i] = 1
			}
		}
		return out, nil
	}
	res, err := wv.Search(ctx, Query{Text: "BM25 length normalisation majority", K: 2, Rerank: StoreReranker(wv, prefer, 0)})
	if err != nil || len(res) == 0 || filepath.Base(res[0].Chunk.Source) != "raft.txt" {
		t.Fatalf("reranked search: %v, %v", sources(res), err)
	}

	// Re-ingest: unchanged files are skipped; a file that shrinks loses its
	// stale chunks; a file that goes loses all of them.
	rep, err := wv.Ingest(ctx, []string{src}, IngestOptions{})
	if err != nil || rep.Unchanged != len(kbCorpus) || rep.Chunks != 0 {
		t.Fatalf("re-ingest: %+v, %v", rep, err)
	}
	long := strings.Repeat("流水线并行把模型的层分到多台机器上。", 12)
	writeCorpus(t, src, map[string]string{"pipeline.txt": long})
	if _, err := wv.Ingest(ctx, []string{src}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	grown := wv.Stats().Chunks
	writeCorpus(t, src, map[string]string{"pipeline.txt": "流水线并行。"})
	os.Remove(filepath.Join(src, "guard.txt"))
	rep, err = wv.Ingest(ctx, []string{src}, IngestOptions{})
	if err != nil || rep.Updated != 1 || rep.Removed != 1 {
		t.Fatalf("ingest after shrink and delete: %+v, %v", rep, err)
	}
	if n, _, err := wv.RemoteCount(ctx); err != nil || n != wv.Stats().Chunks || n >= grown {
		t.Fatalf("after shrink and delete: %d objects in Weaviate, %d chunks recorded (was %d), %v", n, wv.Stats().Chunks, grown, err)
	}
	if res, err := wv.Search(ctx, Query{Text: "敏感词过滤", K: 5}); err != nil || slices.Contains(sources(res), "guard.txt") {
		t.Fatalf("deleted file still found: %v, %v", sources(res), err)
	}

	// A crash after the remote write and before the local commit: the
	// next ingest writes the file again and clears the orphaned chunks.
	orphan := &DocRecord{Path: filepath.Join(src, "pipeline.txt")}
	for i := range 6 {
		orphan.Chunks = append(orphan.Chunks, Chunk{Source: orphan.Path, Index: i, Text: fmt.Sprintf("孤儿块 %d", i)})
	}
	texts := make([]string, len(orphan.Chunks))
	for i, c := range orphan.Chunks {
		texts[i] = c.Text
	}
	orphan.Vectors, _ = hashEmbedder(64)(ctx, texts)
	if err := wv.remote.PutDocs(ctx, []*DocRecord{orphan}); err != nil {
		t.Fatal(err)
	}
	writeCorpus(t, src, map[string]string{"pipeline.txt": "流水线并行把层分到多台机器。"})
	if _, err := wv.Ingest(ctx, []string{src}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := wv.RemoteCount(ctx); err != nil || n != wv.Stats().Chunks {
		t.Fatalf("after resumed ingest: %d objects in Weaviate, %d chunks recorded, %v", n, wv.Stats().Chunks, err)
	}

	// The local record holds no chunk text, and a fresh read-only open
	// answers from Weaviate.
	if d, ok := wv.Doc(filepath.Join(src, "lora.md")); !ok || len(d.Chunks) != 0 || d.NumChunks() == 0 {
		t.Fatalf("local record of lora.md: %+v", d)
	}
	dir := wv.Dir()
	wv.Close()
	ro, err := OpenStore(dir, hashEmbedder(64), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if res, err := ro.Search(ctx, Query{Text: "中文分词", K: 1}); err != nil || len(res) != 1 || filepath.Base(res[0].Chunk.Source) != "tokenize.md" {
		t.Fatalf("reopened: %v, %v", sources(res), err)
	}
	if err := ro.DropRemote(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Search(ctx, Query{Text: "中文分词", K: 1}); err == nil {
		t.Fatal("search after DropRemote succeeded")
	}
}

// TestRemoteSettings covers the rules that need no server: class names,
// store agreement on reopen, and a server that cannot be reached.
func TestRemoteSettings(t *testing.T) {
	if got := WeaviateClassFor("docs-v2.中文"); got != "Ragtune_docs_v2___" {
		t.Errorf("WeaviateClassFor = %q", got)
	}
	rec := &RemoteConfig{Kind: StoreWeaviate, URL: "http://a:1", Class: "Ragtune_x", Replication: 3}
	for _, tc := range []struct {
		stated   *RemoteConfig
		recorded *RemoteConfig
		ok       bool
	}{
		{nil, rec, true},
		{nil, nil, true},
		{&RemoteConfig{Kind: StoreEmbedded}, nil, true},
		{&RemoteConfig{Kind: StoreEmbedded}, rec, false},
		{&RemoteConfig{Kind: StoreWeaviate, URL: "http://a:1"}, nil, false},
		{&RemoteConfig{Kind: StoreWeaviate, URL: "http://a:1", Replication: 3}, rec, true},
		{&RemoteConfig{Kind: StoreWeaviate, URL: "http://b:1"}, rec, false},
		{&RemoteConfig{Kind: StoreWeaviate, URL: "http://a:1", Replication: 1}, rec, false},
	} {
		if err := sameStore("x", tc.stated, tc.recorded); (err == nil) != tc.ok {
			t.Errorf("sameStore(%+v, %+v) = %v, want ok %v", tc.stated, tc.recorded, err, tc.ok)
		}
	}
	// A knowledge base whose collection cannot be created is not created.
	dir := filepath.Join(t.TempDir(), "kb")
	cfg := KBSettings{Name: "x", Overlap: -1, Store: &RemoteConfig{Kind: StoreWeaviate, URL: "http://127.0.0.1:1"}}.Config()
	if _, err := CreateStore(dir, cfg); err == nil {
		t.Fatal("CreateStore with an unreachable Weaviate succeeded")
	}
	if _, err := ReadStoreConfig(dir); err == nil {
		t.Fatal("kb.json written although the collection could not be created")
	}
}
