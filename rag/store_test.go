package rag

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hashEmbedder is a test fake: feature-hashed character bigrams, so texts
// sharing bigrams get similar vectors. It stands in for a real encoder.
func hashEmbedder(dim int) Embedder {
	return func(ctx context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, t := range texts {
			v := make([]float32, dim)
			r := []rune(strings.ToLower(t))
			for j := 0; j+1 < len(r); j++ {
				h := fnv.New32a()
				h.Write([]byte(string(r[j : j+2])))
				v[h.Sum32()%uint32(dim)]++
			}
			v[0] += 0.01 // never the zero vector
			out[i] = v
		}
		return out, nil
	}
}

func topSource(t *testing.T, s *Store, q string, mode Mode) string {
	t.Helper()
	res, err := s.Search(context.Background(), Query{Text: q, K: 3, Mode: mode})
	if err != nil {
		t.Fatalf("Search(%q, %s): %v", q, mode, err)
	}
	if len(res) == 0 {
		return ""
	}
	return filepath.Base(res[0].Chunk.Source)
}

func TestStoreIngestIncremental(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{
		"forget.txt":      []byte("灾难性遗忘是指神经网络在学习新任务时忘记旧任务的现象。"),
		"guide/lora.md":   []byte("# LoRA 指南\n\n## 原理\n\n低秩矩阵只训练很少的参数。\n"),
		"web/page.html":   []byte("<title>检索增强</title><p>检索增强生成先从知识库中检索文档。</p>"),
		"gbk.txt":         gbk(t, "国标编码的文件也能被正确读取和检索。"),
		"broken.docx":     []byte("PK\x03\x04 broken"),
		"scan.pdf":        makePDF("q /Im1 Do Q", false),
		"skip/ignored.md": []byte("不应被收录的内容。"),
		"notes.bin":       []byte{0, 1, 2},
	})
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 200, Embedding: &EmbeddingConfig{Model: "fake"}})
	if err != nil {
		t.Fatal(err)
	}
	s.embed = hashEmbedder(64)
	ctx := context.Background()
	opts := IngestOptions{Exclude: []string{"skip/*"}}
	rep, err := s.Ingest(ctx, []string{src}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 4 || rep.Failed != 1 || rep.Skipped != 1 || len(rep.Problems) != 2 {
		t.Fatalf("first ingest report %+v, want 4 added, 1 failed (docx), 1 skipped (pdf)", rep)
	}
	for q, want := range map[string]string{"什么是灾难性遗忘": "forget.txt", "低秩矩阵原理": "lora.md", "检索增强生成": "page.html", "国标编码": "gbk.txt"} {
		for _, mode := range []Mode{ModeBM25, ModeDense, ModeHybrid} {
			if got := topSource(t, s, q, mode); got != want {
				t.Errorf("%s %q: top source %q, want %q", mode, q, got, want)
			}
		}
	}
	res, _ := s.Search(ctx, Query{Text: "低秩矩阵", K: 1})
	if got, want := strings.Join(res[0].Chunk.Headings, "/"), "LoRA 指南/原理"; got != want {
		t.Errorf("headings %q, want %q", got, want)
	}
	if got := topSource(t, s, "不应被收录", ModeBM25); got != "" {
		t.Errorf("excluded file was ingested: %s", got)
	}

	// Second run: nothing changed.
	rep, err = s.Ingest(ctx, []string{src}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged != 4 || rep.Added+rep.Updated+rep.Removed != 0 {
		t.Fatalf("second ingest report %+v, want 4 unchanged", rep)
	}
	// Change one file, delete another.
	writeFiles(t, src, map[string][]byte{"forget.txt": []byte("持续学习研究如何避免模型遗忘。")})
	os.Remove(filepath.Join(src, "web", "page.html"))
	rep, err = s.Ingest(ctx, []string{src}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Updated != 1 || rep.Removed != 1 || rep.Unchanged != 2 {
		t.Fatalf("third ingest report %+v, want 1 updated, 1 removed, 2 unchanged", rep)
	}
	if got := topSource(t, s, "检索增强生成", ModeBM25); got == "page.html" {
		t.Errorf("deleted file still found")
	}
	if got := topSource(t, s, "持续学习", ModeBM25); got != "forget.txt" {
		t.Errorf("updated content not found, got %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen from the snapshot, read-only, and find the same things.
	r, err := OpenStore(kbDir, hashEmbedder(64), true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := r.Stats(); st.Docs != 3 || st.VectorDim != 64 {
		t.Errorf("reopened stats %+v, want 3 docs with 64-d vectors", st)
	}
	for _, mode := range []Mode{ModeBM25, ModeDense} {
		if got := topSource(t, r, "持续学习", mode); got != "forget.txt" {
			t.Errorf("reopened %s: got %q", mode, got)
		}
	}
	if err := r.Put(&DocRecord{Path: "x"}); err == nil {
		t.Errorf("Put on a read-only store succeeded")
	}
}

func TestStoreTornLogTail(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := Chunker{Size: 100}
	for i := range 5 {
		text := fmt.Sprintf("文档%d的内容，关键词k%d。", i, i)
		if err := s.Put(&DocRecord{Path: fmt.Sprintf("/d/%d.txt", i), Chunks: c.Split(fmt.Sprintf("/d/%d.txt", i), "", text, false)}); err != nil {
			t.Fatal(err)
		}
	}
	// Simulate a crash: copy the directory as it is now (log not
	// checkpointed) and tear the last record in half.
	crashed := filepath.Join(t.TempDir(), "kb")
	os.MkdirAll(crashed, 0o755)
	for _, name := range []string{configFile, walFile} {
		data, err := os.ReadFile(filepath.Join(kbDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == walFile {
			data = data[:len(data)-7]
		}
		os.WriteFile(filepath.Join(crashed, name), data, 0o644)
	}
	s.Close()
	r, err := OpenStore(crashed, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.Paths()), 4; got != want {
		t.Fatalf("%d documents after torn tail, want %d", got, want)
	}
	if got := topSource(t, r, "k3", ModeBM25); got != "3.txt" {
		t.Errorf("k3 → %q", got)
	}
	// The torn tail was cut off, so new commits replay after reopening.
	if err := r.Put(&DocRecord{Path: "/d/new.txt", Chunks: c.Split("/d/new.txt", "", "新文档 knew。", false)}); err != nil {
		t.Fatal(err)
	}
	r.wal.Close() // crash again without a checkpoint
	r.wal = nil
	r.unlock()
	r2, err := OpenStore(crashed, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := topSource(t, r2, "knew", ModeBM25); got != "new.txt" || len(r2.Paths()) != 5 {
		t.Errorf("after second crash: knew → %q, %d docs", got, len(r2.Paths()))
	}
}

// crashChildEnv makes the test binary act as an ingest process that the
// parent kills with SIGKILL.
const crashChildEnv = "RAGTUNE_TEST_INGEST_CHILD"

func makeCorpus(t *testing.T, dir string, n int) {
	t.Helper()
	files := map[string][]byte{}
	for i := range n {
		var b strings.Builder
		for j := range 20 {
			fmt.Fprintf(&b, "第%d号文档的第%d句话讲述主题t%dx。", i, j, i)
		}
		files[fmt.Sprintf("f%04d.txt", i)] = []byte(b.String())
	}
	writeFiles(t, dir, files)
}

func TestIngestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("helper process for TestIngestKill9")
	}
	src, kbDir, _ := strings.Cut(spec, "|")
	s, err := OpenStore(kbDir, nil, false)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	s.Ingest(context.Background(), []string{src}, IngestOptions{Progress: func(e IngestEvent) {
		if e.Done == 40 {
			fmt.Println("COMMITTED 40")
		}
		time.Sleep(2 * time.Millisecond) // leave the parent time to kill us mid-run
	}})
	fmt.Println("FINISHED")
	os.Exit(0)
}

func TestIngestKill9(t *testing.T) {
	src := t.TempDir()
	const n = 400
	makeCorpus(t, src, n)
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "crash", ChunkSize: 120})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+src+"|"+kbDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "COMMITTED 40") {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
		if strings.HasPrefix(sc.Text(), "ERROR") || strings.Contains(sc.Text(), "FINISHED") {
			break
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child did not reach the kill point")
	}

	r, err := OpenStore(kbDir, nil, false)
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	got := len(r.Paths())
	if got < 40 || got >= n {
		t.Fatalf("%d documents after kill -9 mid-ingest, want between 40 and %d", got, n-1)
	}
	// Every committed document is whole and searchable.
	for _, p := range r.Paths() {
		d, _ := r.Doc(p)
		if len(d.Chunks) == 0 {
			t.Fatalf("%s committed without chunks", p)
		}
		var i int
		fmt.Sscanf(filepath.Base(p), "f%04d.txt", &i)
		res, err := r.Search(context.Background(), Query{Text: fmt.Sprintf("主题t%dx", i), K: 1, Mode: ModeBM25})
		if err != nil || len(res) == 0 || res[0].Chunk.Source != p {
			t.Fatalf("query for %s after crash: %v %v", p, res, err)
		}
	}
	rep, err := r.Ingest(context.Background(), []string{src}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged != got || rep.Added != n-got {
		t.Errorf("re-ingest after crash %+v, want %d unchanged and %d added", rep, got, n-got)
	}
	if len(r.Paths()) != n {
		t.Errorf("%d documents after re-ingest, want %d", len(r.Paths()), n)
	}
	r.Close()
	t.Logf("killed after %d of %d documents; re-ingest completed", got, n)
}

func TestQueryDuringIngest(t *testing.T) {
	src := t.TempDir()
	makeCorpus(t, src, 150)
	writeFiles(t, src, map[string][]byte{"anchor.txt": []byte("锚点文档包含独特的词语 zebraquartz。")})
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "c", ChunkSize: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Ingest(context.Background(), []string{filepath.Join(src, "anchor.txt")}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	var queries atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for !done.Load() {
				res, err := s.Search(context.Background(), Query{Text: "zebraquartz", K: 3, Mode: ModeBM25})
				if err != nil || len(res) == 0 || filepath.Base(res[0].Chunk.Source) != "anchor.txt" {
					t.Errorf("anchor query during ingest: %v %v", res, err)
					return
				}
				res, _ = s.Search(context.Background(), Query{Text: "文档 主题", K: 1000, Mode: ModeBM25})
				for _, r := range res {
					if r.Chunk.Text == "" {
						t.Errorf("empty chunk %s", r.ID)
						return
					}
				}
				if len(res) < last {
					t.Errorf("visible chunks went from %d to %d", last, len(res))
					return
				}
				last = len(res)
				queries.Add(1)
			}
		}()
	}
	rep, err := s.Ingest(context.Background(), []string{src}, IngestOptions{})
	done.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 150 || rep.Unchanged != 1 {
		t.Errorf("report %+v", rep)
	}
	if queries.Load() < 5 {
		t.Errorf("only %d queries ran during ingest", queries.Load())
	}
	t.Logf("%d queries answered during ingest", queries.Load())
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pat, rel string
		want     bool
	}{
		{"*.md", "a/b/readme.md", true},
		{"*.md", "a/b/readme.txt", false},
		{"docs/*", "docs/x.txt", true},
		{"docs/*", "docs/sub/x.txt", true},
		{"docs/*", "other/x.txt", false},
		{"**/test_*.txt", "a/b/test_1.txt", true},
		{"**/test_*.txt", "test_1.txt", true},
		{"vendor/", "vendor/a/b.go", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pat, tt.rel); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pat, tt.rel, got, tt.want)
		}
	}
}
