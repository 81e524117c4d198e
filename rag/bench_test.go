//go:build unix

package rag

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"ragtune/index"
	"ragtune/internal/cputime"
)

// synthText returns deterministic Chinese-like text: words of 1-4 common
// Han characters drawn from a Zipf-distributed vocabulary, with
// punctuation, so term statistics resemble natural text (a few very
// frequent terms, a long tail).
type synthText struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newSynthText(seed uint64, vocab int) *synthText {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &synthText{r: r, zipf: rand.NewZipf(r, 1.1, 2, uint64(vocab-1))}
	for range vocab {
		n := 1 + r.IntN(4)
		w := make([]rune, n)
		for i := range w {
			w[i] = rune(0x4E00 + r.IntN(3500)) // the most common block
		}
		s.vocab = append(s.vocab, string(w))
	}
	return s
}

func (s *synthText) sentence() string {
	var b strings.Builder
	for n := 4 + s.r.IntN(12); n > 0; n-- {
		b.WriteString(s.vocab[s.zipf.Uint64()])
		if s.r.IntN(6) == 0 {
			b.WriteString("，")
		}
	}
	b.WriteString("。")
	return b.String()
}

func (s *synthText) chunk(chars int) string {
	var b strings.Builder
	for len([]rune(b.String())) < chars {
		b.WriteString(s.sentence())
	}
	return b.String()
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// BenchmarkIngest measures end-to-end ingest throughput (read, extract,
// chunk, tokenize, BM25, write-ahead log with fsync, snapshot) on 200
// files of about 50 chunks each. Reports chunks/s.
//
//	go test ./rag -run '^$' -bench Ingest -benchtime 1x
func BenchmarkIngest(b *testing.B) {
	src := b.TempDir()
	st := newSynthText(1, 20000)
	for i := range 200 {
		var text strings.Builder
		for range 50 {
			text.WriteString(st.chunk(180))
			text.WriteString("\n\n")
		}
		os.WriteFile(filepath.Join(src, fmt.Sprintf("doc%03d.txt", i)), []byte(text.String()), 0o644)
	}
	index.DefaultAnalyzer().Tokens("预热") // load the dictionary outside the timing
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "kb")
		s, err := CreateStore(dir, StoreConfig{Name: "bench", ChunkSize: 200})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpu := time.Now(), cputime.Process()
		rep, err := s.Ingest(context.Background(), []string{src}, IngestOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Chunks)/time.Since(start).Seconds(), "chunks/s")
		b.ReportMetric(float64(rep.Chunks)/(cputime.Process()-cpu).Seconds(), "chunks/cpu-s")
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkQuery100k measures query latency at 100k chunks of 200
// characters: BM25 (gse words + Han bigrams), dense over random 384-d
// vectors (exact Flat and HNSW), and hybrid (BM25 + Flat, RRF). Reports
// p50 and p99 in milliseconds over 300 queries per mode.
//
//	go test ./rag -run '^$' -bench Query100k -benchtime 1x -timeout 60m
func BenchmarkQuery100k(b *testing.B) {
	const n, dim = 100000, 384
	st := newSynthText(2, 50000)
	docs := make([]index.Doc, n)
	for i := range docs {
		docs[i] = index.Doc{ID: fmt.Sprint(i), Text: st.chunk(200)}
	}
	index.DefaultAnalyzer().Tokens("预热")
	start, cpu := time.Now(), cputime.Process()
	lex := index.NewBM25(index.BM25Params{K1: 0.9, B: 0.4}, nil)
	lex.AddBatch(docs)
	fmt.Printf("BM25 index of %d chunks built in %.1f s wall, %.1f s CPU\n", n, time.Since(start).Seconds(), (cputime.Process() - cpu).Seconds())
	r := rand.New(rand.NewPCG(3, 3))
	randVec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	flat := index.NewFlat(dim)
	for i := range n {
		flat.Add(docs[i].ID, randVec(), nil)
	}
	queries := make([]string, 300)
	qvecs := make([][]float32, len(queries))
	for i := range queries {
		// Queries reuse words of a random chunk, as real questions do.
		words := []rune(docs[r.IntN(n)].Text)
		q := max(0, r.IntN(len(words)-12))
		queries[i] = string(words[q : q+12])
		qvecs[i] = randVec()
	}
	qi := 0
	embed := func(ctx context.Context, texts []string) ([][]float32, error) {
		return [][]float32{qvecs[qi%len(qvecs)]}, nil
	}
	ctx := context.Background()
	modes := []struct {
		name string
		r    *Retriever
		mode Mode
	}{
		{"bm25", &Retriever{Lexical: lex}, ModeBM25},
		{"dense-flat", &Retriever{Vectors: flat, Embed: embed}, ModeDense},
		{"hybrid-flat-rrf", &Retriever{Lexical: lex, Vectors: flat, Embed: embed}, ModeHybrid},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				lat := make([]time.Duration, len(queries))
				cpu := cputime.Process()
				for i, q := range queries {
					qi = i
					t := time.Now()
					if _, err := m.r.Search(ctx, q, 10, m.mode, nil); err != nil {
						b.Fatal(err)
					}
					lat[i] = time.Since(t)
				}
				b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64((cputime.Process()-cpu).Microseconds())/1000/float64(len(queries)), "cpu-ms/query")
			}
		})
	}
}

// BenchmarkSmallUpload measures one small upload (AddDocuments of a
// 300-character file) into a knowledge base whose snapshot is about
// 15 MB, against what every upload used to cost on top: rewriting the
// snapshot (Checkpoint).
//
//	go test ./rag -run '^$' -bench SmallUpload -benchtime 20x
func BenchmarkSmallUpload(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "kb")
	s, err := CreateStore(dir, StoreConfig{Name: "bench", ChunkSize: 200})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := newSynthText(9, 20000)
	c := Chunker{Size: 200}
	var batch []*DocRecord
	for i := range 530 {
		text := st.chunk(2000)
		batch = append(batch, &DocRecord{Path: fmt.Sprintf("/big/%04d.txt", i), Hash: contentHash([]byte(text)), Chunks: c.Split("", "", text, false)})
	}
	if err := s.PutBatch(batch); err != nil {
		b.Fatal(err)
	}
	if err := s.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, snapshotFile))
	b.Logf("snapshot %.1f MB", float64(fi.Size())/1e6)
	n := 0
	upload := func(b *testing.B) {
		n++
		text := fmt.Sprintf("第%d次上传。", n) + st.chunk(300)
		if _, err := s.AddDocuments(context.Background(), []NewDocument{{Path: fmt.Sprintf("/up/%d.txt", n), Data: []byte(text)}}, IngestOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			upload(b)
		}
		b.ReportMetric(float64(s.Stats().WALBytes)/float64(b.N), "log-bytes/op")
	})
	b.Run("append+snapshot", func(b *testing.B) {
		for b.Loop() {
			upload(b)
			if err := s.Checkpoint(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUploadUnpunctuated adds a 2 MiB .txt of Chinese without
// punctuation (AddDocuments: decode, chunk at the server's 512/64, BM25
// indexing, one log record with fsync) to an empty knowledge base: the
// upload that took the quadratic chunker minutes.
//
//	go test ./rag -run '^$' -bench UploadUnpunctuated -benchtime 3x
func BenchmarkUploadUnpunctuated(b *testing.B) {
	data := []byte(unpunctuatedChinese(2 << 20))
	index.DefaultAnalyzer().Tokens("预热")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		s, err := CreateStore(filepath.Join(b.TempDir(), "kb"), StoreConfig{Name: "bench", ChunkSize: 512, Overlap: 64})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu := cputime.Process()
		res, err := s.AddDocuments(context.Background(), []NewDocument{{Path: "/up/zh.txt", Data: data}}, IngestOptions{})
		if err != nil || res[0].Status != AddedNew {
			b.Fatal(res, err)
		}
		b.ReportMetric((cputime.Process() - cpu).Seconds(), "cpu-s/op") // wall time on a shared machine swings with its load
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
