package rag

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ragtune/internal/cputime"
	"ragtune/internal/weaviatetest"
)

// BenchmarkKBScale measures a knowledge base at scale, embedded against
// Weaviate (one local node started by the benchmark): ingest rate, query
// latency p50/p99 in BM25 and hybrid mode, the client's peak Go heap
// growth during ingest and the live heap it leaves, the Weaviate server's peak RSS, and the bytes on disk.
// The corpus is synthetic (synthCorpus), half Chinese and half English,
// with 64-dimensional hash-embedder vectors, so the figures measure the
// stores, not an encoder. Sizes are chunk counts:
//
//	RAGTUNE_SCALE=10000,100000 go test -run '^$' -bench KBScale -benchtime 1x -timeout 2h ./rag/
//
// RAGTUNE_SCALE_STORES=embedded (or weaviate) measures one store only;
// RAGTUNE_SCALE_HEAPPROFILE=PREFIX writes each run's live heap after
// ingest to PREFIX.STORE-CHUNKS.
// Without RAGTUNE_SCALE the benchmark is skipped: it writes and indexes
// gigabytes at the larger sizes.
func BenchmarkKBScale(b *testing.B) {
	sizes := os.Getenv("RAGTUNE_SCALE")
	if sizes == "" {
		b.Skip("set RAGTUNE_SCALE=10000,100000 (chunk counts) to measure; see the doc comment")
	}
	stores := []string{StoreEmbedded, StoreWeaviate}
	if s := os.Getenv("RAGTUNE_SCALE_STORES"); s != "" {
		stores = strings.Split(s, ",")
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("RAGTUNE_SCALE: %q is not a chunk count", f)
		}
		src := b.TempDir()
		chunks, bytes := synthCorpus(b, src, n, 1)
		b.Logf("corpus: %d files, ~%d chunks, %.1f MB", chunks/synthChunksPerFile, chunks, float64(bytes)/1e6)
		for _, store := range stores {
			b.Run(fmt.Sprintf("%s/chunks=%d", store, n), func(b *testing.B) {
				for b.Loop() {
					scaleRun(b, store, src)
				}
			})
		}
	}
}

// scaleRun ingests src into a new knowledge base in store and queries it.
func scaleRun(b *testing.B, store, src string) {
	ctx := context.Background()
	var node *weaviatetest.Node
	set := KBSettings{Name: "scale", Overlap: -1, Embedding: &EmbeddingConfig{Model: "hash"}}
	if store == StoreWeaviate {
		node = weaviatetest.NewNode(b, "node1", b.TempDir(), nil)
		node.Start(b)
		set.Store = &RemoteConfig{Kind: StoreWeaviate, URL: node.URL}
	}
	dir := filepath.Join(b.TempDir(), "kb")
	st, err := CreateStore(dir, set.Config())
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	if st, err = OpenStore(dir, hashEmbedder(64), false); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()

	// The heap figure is the growth during ingest: what the process held
	// before (the gse dictionary, an earlier run's leftovers) is not the
	// store's.
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	start, cpu0 := time.Now(), cputime.Process()
	rep, err := st.Ingest(ctx, []string{src}, IngestOptions{})
	if err == nil {
		err = st.Checkpoint()
	}
	ingest := time.Since(start)
	// CPU time per chunk: on a shared machine the wall-clock rate says as
	// much about the neighbours as about the store.
	cpuMSPerChunk := float64((cputime.Process() - cpu0).Microseconds()) / 1000 / float64(max(rep.Chunks, 1))
	close(stop)
	<-sampled
	if err != nil {
		b.Fatal(err)
	}
	rate := float64(rep.Chunks) / ingest.Seconds()

	heapMB := float64(peakHeap.Load()-min(peakHeap.Load(), base.HeapInuse)) / 1e6
	// The peak includes garbage the collector had not yet reclaimed (up to
	// the live heap again at GOGC=100, so it grows with whatever the
	// process held before); the live growth is what the store keeps.
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if p := os.Getenv("RAGTUNE_SCALE_HEAPPROFILE"); p != "" {
		writeHeapProfile(b, fmt.Sprintf("%s.%s-%d", p, store, rep.Chunks))
	}
	liveMB := (float64(after.HeapAlloc) - float64(base.HeapAlloc)) / 1e6
	queries := synthQueries(200, 7)
	for _, q := range synthQueries(20, 99) { // warm caches and connections
		if _, err := st.Search(ctx, Query{Text: q, K: 5, Mode: ModeHybrid}); err != nil {
			b.Fatal(err)
		}
	}
	lat := map[Mode][]time.Duration{}
	for _, mode := range []Mode{ModeBM25, ModeHybrid} {
		for _, q := range queries {
			t0 := time.Now()
			if _, err := st.Search(ctx, Query{Text: q, K: 5, Mode: mode}); err != nil {
				b.Fatalf("%s %q: %v", mode, q, err)
			}
			lat[mode] = append(lat[mode], time.Since(t0))
		}
	}
	// What a later process (ask, serve) holds: the knowledge base opened
	// afresh from its files, after this one let go of its copy.
	var reopenMB, openSec float64
	if store == StoreEmbedded {
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		st = nil
		// Two collections: a sync.Pool the searches filled (the BM25
		// accumulators) keeps its index reachable until the second.
		runtime.GC()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		ro, err := OpenStore(dir, hashEmbedder(64), true)
		if err != nil {
			b.Fatal(err)
		}
		openSec = time.Since(t0).Seconds()
		if _, err := ro.Search(ctx, Query{Text: queries[0], K: 5, Mode: ModeHybrid}); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		reopenMB = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / 1e6
		ro.Close()
		runtime.KeepAlive(ro)
	}
	disk := dirBytes(dir)
	var serverRSS int64
	if node != nil {
		disk += dirBytes(node.DataDir())
		serverRSS = procHWM(node.PID())
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(rate, "chunks/s")
	b.ReportMetric(cpuMSPerChunk, "ingest-cpu-ms/chunk")
	b.ReportMetric(ms(pct(lat[ModeBM25], 50)), "bm25-p50-ms")
	b.ReportMetric(ms(pct(lat[ModeBM25], 99)), "bm25-p99-ms")
	b.ReportMetric(ms(pct(lat[ModeHybrid], 50)), "hybrid-p50-ms")
	b.ReportMetric(ms(pct(lat[ModeHybrid], 99)), "hybrid-p99-ms")
	b.ReportMetric(heapMB, "client-heap-MB")
	b.ReportMetric(liveMB, "client-live-MB")
	b.ReportMetric(float64(serverRSS)/1e6, "server-rss-MB")
	b.ReportMetric(float64(disk)/1e6, "disk-MB")
	b.ReportMetric(reopenMB, "reopen-live-MB")
	b.ReportMetric(openSec, "open-s")
	b.Logf("ingest CPU %.2f ms/chunk; reopened: %.0f MB live, opened in %.1f s", cpuMSPerChunk, reopenMB, openSec)
	b.Logf("| %s | %d | %.0f | %.1f / %.1f | %.1f / %.1f | %.0f (live %.0f) | %.0f | %.0f |", store, rep.Chunks, rate,
		ms(pct(lat[ModeBM25], 50)), ms(pct(lat[ModeBM25], 99)), ms(pct(lat[ModeHybrid], 50)), ms(pct(lat[ModeHybrid], 99)),
		heapMB, liveMB, float64(serverRSS)/1e6, float64(disk)/1e6)
}

// writeHeapProfile writes the live heap (after a collection) to path, for
// finding where a store's memory goes: go tool pprof -sample_index=inuse_space.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// pct is the p-th percentile of ds (sorted in place).
func pct(ds []time.Duration, p int) time.Duration {
	slices.Sort(ds)
	return ds[min(len(ds)-1, len(ds)*p/100)]
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// procHWM is a process's peak resident set (VmHWM), 0 when unreadable.
func procHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// synthChunksPerFile is how many default-size chunks a synthetic file
// makes, roughly.
const synthChunksPerFile = 10

// Synthetic vocabularies: Chinese words of two or three characters drawn
// from a fixed set of common characters, and English-like words from
// syllables, each ranked so that sampling follows a Zipf law as natural
// text does.
var (
	synthHan = []rune("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质")
	synthSyl = []string{"ka", "lo", "mi", "ren", "tor", "sa", "vel", "qu", "dan", "pri", "ex", "mon", "tis", "ul", "gra", "fen", "or", "bel", "cin", "dro"}
)

// synthWord is word rank r of the Chinese (zh) or English vocabulary; the
// same rank gives the same word everywhere.
func synthWord(zh bool, r uint64) string {
	if zh {
		n := uint64(len(synthHan))
		w := []rune{synthHan[r%n], synthHan[(r/n+7*r)%n]}
		if r%3 == 0 {
			w = append(w, synthHan[(r*31+5)%n])
		}
		return string(w)
	}
	var b strings.Builder
	for k := 0; k < 2+int(r%3); k++ {
		b.WriteString(synthSyl[(r/uint64(1+k*k)+uint64(k)*13)%uint64(len(synthSyl))])
	}
	return b.String() + strconv.FormatUint(r%97, 36)
}

// synthCorpus writes files under dir totalling about chunks chunks of the
// default chunk size, one file at a time (memory stays flat however large
// the corpus), in 100 subdirectories. It returns the chunk estimate and
// the bytes written.
func synthCorpus(tb testing.TB, dir string, chunks int, seed uint64) (int, int64) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	zipf := rand.NewZipf(rng, 1.1, 2, 50000)
	files := max(1, chunks/synthChunksPerFile)
	var total int64
	var buf strings.Builder
	for i := range files {
		zh := i%2 == 0
		buf.Reset()
		fmt.Fprintf(&buf, "# %s %d\n\n", synthWord(zh, uint64(i)%5000), i)
		target := synthChunksPerFile * (DefaultChunkSize - DefaultOverlap) // characters
		for chars := 0; chars < target; {
			words := 8 + rng.IntN(10)
			for w := range words {
				word := synthWord(zh, zipf.Uint64())
				if !zh && w > 0 {
					buf.WriteByte(' ')
				}
				buf.WriteString(word)
				chars += len([]rune(word)) + 1
			}
			if zh {
				buf.WriteString("。")
			} else {
				buf.WriteString(". ")
			}
			if rng.IntN(6) == 0 {
				buf.WriteString("\n\n")
			}
		}
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%100))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%07d.md", i)), []byte(buf.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		total += int64(buf.Len())
	}
	return files * synthChunksPerFile, total
}

// synthQueries are n queries of two or three mid-frequency vocabulary
// words, half Chinese and half English.
func synthQueries(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]string, n)
	for i := range out {
		zh := i%2 == 0
		var ws []string
		for range 2 + rng.IntN(2) {
			ws = append(ws, synthWord(zh, uint64(20+rng.IntN(2000))))
		}
		sep := " "
		if zh {
			sep = ""
		}
		out[i] = strings.Join(ws, sep)
	}
	return out
}

// TestSynthCorpus checks the generator: deterministic, about the asked
// number of chunks once chunked, and both scripts present.
func TestSynthCorpus(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	n, _ := synthCorpus(t, a, 200, 3)
	synthCorpus(t, b, 200, 3)
	fa, _ := os.ReadFile(filepath.Join(a, "d01", "f0000001.md"))
	fb, _ := os.ReadFile(filepath.Join(b, "d01", "f0000001.md"))
	if string(fa) != string(fb) || len(fa) == 0 {
		t.Fatal("synthCorpus is not deterministic")
	}
	st, err := CreateStore(filepath.Join(t.TempDir(), "kb"), KBSettings{Name: "s", Overlap: -1}.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := st.Ingest(context.Background(), []string{a}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Chunks < n*8/10 || rep.Chunks > n*13/10 {
		t.Errorf("%d chunks from a corpus sized for %d", rep.Chunks, n)
	}
	// Queries use mid-frequency words, most of which a corpus this small
	// already holds.
	found := 0
	for _, q := range synthQueries(20, 1) {
		res, err := st.Search(context.Background(), Query{Text: q, K: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) > 0 {
			found++
		}
	}
	if found < 10 {
		t.Errorf("%d of 20 queries found anything", found)
	}
	zh, _ := os.ReadFile(filepath.Join(a, "d00", "f0000000.md"))
	if !strings.ContainsFunc(string(zh), func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) || strings.ContainsFunc(string(fa), func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Error("even files should be Chinese, odd files English")
	}
}
