package server

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"ragtune/internal/weaviatetest"
	"ragtune/openai"
	"ragtune/rag"
)

// TestWeaviateKBRoutes serves a knowledge base stored in Weaviate next to
// an embedded one built from the same files: the query route ranks the
// same source first for each, an upload lands in Weaviate and is found,
// the chunk route reads the chunk back from there, and deleting the
// knowledge base drops its collection.
func TestWeaviateKBRoutes(t *testing.T) {
	url := weaviatetest.Start(t)
	ctx := context.Background()
	src := t.TempDir()
	for name, text := range map[string]string{
		"forget.txt": "灾难性遗忘是指模型在学习新领域时丢失原有能力。",
		"japan.md":   "# Japan\n\nTokyo is the capital of Japan. 东京是日本的首都。\n",
		"lora.txt":   "LoRA 用两个低秩矩阵近似权重更新，只训练很少的参数。",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kbDir := t.TempDir()
	for _, name := range []string{"emb", "wv"} {
		set := rag.KBSettings{Name: name, Overlap: -1}
		if name == "wv" {
			set.Store = &rag.RemoteConfig{Kind: rag.StoreWeaviate, URL: url}
		}
		st, err := rag.CreateStore(filepath.Join(kbDir, name), set.Config())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Ingest(ctx, []string{src}, rag.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	_, ts := testServer(t, Config{Engine: &scripted{answer: []string{"Tokyo [1]."}}, KBDir: kbDir})
	first := func(kb, query string) openai.Citation {
		t.Helper()
		st, b := do(t, "POST", ts.URL+"/v1/kb/"+kb+"/query", `{"query":"`+query+`","top_k":2}`)
		var r struct {
			Data []openai.Citation `json:"data"`
		}
		if st != 200 || json.Unmarshal(b, &r) != nil || len(r.Data) == 0 {
			t.Fatalf("query %s %q: %d %s", kb, query, st, b)
		}
		return r.Data[0]
	}
	for _, q := range []string{"什么是灾难性遗忘", "capital of Japan", "低秩矩阵"} {
		if w, e := first("wv", q), first("emb", q); w.Source != e.Source {
			t.Errorf("%q: weaviate %s, embedded %s", q, w.Source, e.Source)
		}
	}
	if st, b := upload(t, ts.URL+"/v1/kb/wv/documents", "raft.md", []byte("# Raft\n\nA write commits once a majority of the followers stores it.\n")); st != 201 {
		t.Fatalf("upload: %d %s", st, b)
	}
	c := first("wv", "majority followers")
	if c.Source != "raft.md" {
		t.Fatalf("uploaded document not found first: %+v", c)
	}
	st, b := do(t, "GET", ts.URL+"/v1/kb/wv/chunks/"+c.ChunkID, "")
	var chunk struct {
		Text   string `json:"text"`
		Chunks int    `json:"chunks_in_document"`
	}
	if st != 200 || json.Unmarshal(b, &chunk) != nil || chunk.Chunks != 1 || chunk.Text == "" {
		t.Fatalf("chunk route: %d %s", st, b)
	}
	if st, b := do(t, "DELETE", ts.URL+"/v1/kb/wv", ""); st/100 != 2 {
		t.Fatalf("delete: %d %s", st, b)
	}
	resp, err := http.Get(url + "/v1/schema/" + rag.WeaviateClassFor("wv"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("collection after delete: HTTP %d, want 404", resp.StatusCode)
	}
}
