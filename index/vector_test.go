package index

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// randomVectors returns n deterministic random vectors of length dim with
// Gaussian entries: directions uniform on the sphere, the hardest case for
// graph indexes because nothing clusters.
func randomVectors(n, dim int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		out[i] = v
	}
	return out
}

// bruteForce is the reference: exact top k by cosine, written without the
// index machinery.
func bruteForce(vecs [][]float32, q []float32, k int) []string {
	qn := append([]float32(nil), q...)
	Normalize(qn)
	type sc struct {
		i int
		s float64
	}
	var all []sc
	for i, v := range vecs {
		vn := append([]float32(nil), v...)
		Normalize(vn)
		var s float64
		for j := range vn {
			s += float64(vn[j]) * float64(qn[j])
		}
		all = append(all, sc{i, s})
	}
	for i := 0; i < k; i++ {
		for j := i + 1; j < len(all); j++ {
			if all[j].s > all[i].s {
				all[i], all[j] = all[j], all[i]
			}
		}
	}
	out := make([]string, k)
	for i := range out {
		out[i] = fmt.Sprint(all[i].i)
	}
	return out
}

func TestFlatMatchesBruteForce(t *testing.T) {
	vecs := randomVectors(3000, 32, 1)
	f := NewFlat(32)
	for i, v := range vecs {
		if err := f.Add(fmt.Sprint(i), v, map[string]string{"even": fmt.Sprint(i%2 == 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for qi, q := range randomVectors(20, 32, 2) {
		hits, err := f.Search(q, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(hits), bruteForce(vecs, q, 10); !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d: got %v, want %v", qi, got, want)
		}
	}
	hits, _ := f.Search(vecs[5], 3, MetaEquals(map[string]string{"even": "false"}))
	if hits[0].ID != "5" {
		t.Errorf("filtered search for vector 5 returned %v first", hits[0].ID)
	}
	hits, _ = f.Search(vecs[4], 3, MetaEquals(map[string]string{"even": "false"}))
	if hits[0].ID == "4" {
		t.Errorf("filter admitted an even id")
	}
	for i := range 2000 {
		f.Delete(fmt.Sprint(i))
	}
	var buf bytes.Buffer
	if err := f.Save(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := LoadFlat(&buf)
	if err != nil {
		t.Fatal(err)
	}
	q := randomVectors(1, 32, 3)[0]
	h1, _ := g.Search(q, 10, nil)
	if got, want := ids(h1), bruteForce(vecs[2000:], q, 10); len(got) != 10 {
		t.Fatalf("after delete: got %v", got)
	} else {
		for i := range want {
			var n int
			fmt.Sscan(want[i], &n)
			want[i] = fmt.Sprint(n + 2000)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after delete+load: got %v, want %v", got, want)
		}
	}
	if err := f.Add("zero", make([]float32, 32), nil); err == nil {
		t.Errorf("Add of a zero vector succeeded")
	}
	if _, err := f.Search(make([]float32, 31), 1, nil); err == nil {
		t.Errorf("Search with the wrong dimension succeeded")
	}
}

// recallAt10 measures HNSW against Flat over nq random queries.
func recallAt10(t testing.TB, h *HNSW, f *Flat, queries [][]float32) float64 {
	found, total := 0, 0
	for _, q := range queries {
		exact, _ := f.Search(q, 10, nil)
		approx, err := h.Search(q, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, e := range exact {
			want[e.ID] = true
		}
		for _, a := range approx {
			if want[a.ID] {
				found++
			}
		}
		total += len(exact)
	}
	return float64(found) / float64(total)
}

func buildBoth(vecs [][]float32, cfg HNSWConfig) (*HNSW, *Flat) {
	h := NewHNSW(len(vecs[0]), cfg)
	f := NewFlat(len(vecs[0]))
	for i, v := range vecs {
		h.Add(fmt.Sprint(i), v, nil)
		f.Add(fmt.Sprint(i), v, nil)
	}
	return h, f
}

func TestHNSWRecall10k(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 3000
	}
	vecs := randomVectors(n, 384, 11)
	start := time.Now()
	// Uniform random directions in 384-d are the worst case for a graph
	// index (no clusters), so they need a wide search list: ef 800 here,
	// where real embeddings do well with the default 128.
	h, f := buildBoth(vecs, HNSWConfig{M: 16, EfConstruction: 200, EfSearch: 800, Seed: 1})
	t.Logf("built %d×384 HNSW in %v", n, time.Since(start))
	queries := randomVectors(200, 384, 12)
	if got := recallAt10(t, h, f, queries); got < 0.98 {
		t.Errorf("recall@10 = %.4f, want ≥ 0.98", got)
	} else {
		t.Logf("recall@10 = %.4f", got)
	}
}

func TestHNSWDeterministicSaveLoadDelete(t *testing.T) {
	vecs := randomVectors(1500, 48, 21)
	h1, f := buildBoth(vecs, HNSWConfig{M: 8, EfConstruction: 64, EfSearch: 200, Seed: 5})
	h2, _ := buildBoth(vecs, HNSWConfig{M: 8, EfConstruction: 64, EfSearch: 200, Seed: 5})
	var b1, b2 bytes.Buffer
	h1.Save(&b1)
	h2.Save(&b2)
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Fatalf("two builds with the same seed differ")
	}
	loaded, err := LoadHNSW(bytes.NewReader(b1.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	queries := randomVectors(30, 48, 22)
	for _, q := range queries {
		a, _ := h1.Search(q, 10, nil)
		b, _ := loaded.Search(q, 10, nil)
		if !reflect.DeepEqual(ids(a), ids(b)) {
			t.Fatalf("loaded graph answers %v, original %v", ids(b), ids(a))
		}
	}
	// Tombstones: deleted ids never come back, and recall among the
	// remaining vectors stays high.
	for i := 0; i < 1500; i += 2 {
		loaded.Delete(fmt.Sprint(i))
		f.Delete(fmt.Sprint(i))
	}
	for _, q := range queries {
		hits, _ := loaded.Search(q, 10, nil)
		if len(hits) != 10 {
			t.Fatalf("got %d hits after deletes, want 10", len(hits))
		}
		for _, hit := range hits {
			var n int
			fmt.Sscan(hit.ID, &n)
			if n%2 == 0 {
				t.Fatalf("deleted id %s returned", hit.ID)
			}
		}
	}
	if got := recallAt10(t, loaded, f, queries); got < 0.95 {
		t.Errorf("recall@10 after deleting half = %.3f, want ≥ 0.95", got)
	}
	corrupt := append([]byte(nil), b1.Bytes()...)
	corrupt[len(corrupt)/2] ^= 1
	if _, err := LoadHNSW(bytes.NewReader(corrupt)); err == nil {
		t.Errorf("LoadHNSW of a corrupted file succeeded")
	}
}

var (
	bench100kOnce sync.Once
	bench100kH    *HNSW
	bench100kF    *Flat
	bench100kQ    [][]float32
)

// BenchmarkHNSW100k builds the 100k×384 random graph once (reporting the
// build time), then measures query latency and recall@10 against exact
// search for several efSearch values. Run:
//
//	go test ./index -run '^$' -bench HNSW100k -benchtime 200x -timeout 60m
func BenchmarkHNSW100k(b *testing.B) {
	bench100kOnce.Do(func() {
		vecs := randomVectors(100000, 384, 31)
		bench100kF = NewFlat(384)
		for i, v := range vecs {
			bench100kF.Add(fmt.Sprint(i), v, nil)
		}
		// The build takes minutes on 2 cores; keep the graph between runs.
		cache := filepath.Join(os.TempDir(), "ragtune-bench-hnsw100k-M16-efc200-seed1.bin")
		if f, err := os.Open(cache); err == nil {
			bench100kH, err = LoadHNSW(bufio.NewReader(f))
			f.Close()
			if err == nil {
				fmt.Printf("HNSW 100k×384 loaded from %s\n", cache)
			}
		}
		if bench100kH == nil || bench100kH.Len() != len(vecs) {
			start := time.Now()
			bench100kH = NewHNSW(384, HNSWConfig{M: 16, EfConstruction: 200, EfSearch: 128, Seed: 1})
			for i, v := range vecs {
				bench100kH.Add(fmt.Sprint(i), v, nil)
			}
			fmt.Printf("HNSW 100k×384 M=16 efConstruction=200: build %.1f s\n", time.Since(start).Seconds())
			SaveFile(cache, bench100kH.Save)
		}
		bench100kQ = randomVectors(200, 384, 32)
	})
	for _, ef := range []int{128, 512, 1024, 2048, 4096, 8192} {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			bench100kH.SetEfSearch(ef)
			i := 0
			for b.Loop() {
				bench100kH.Search(bench100kQ[i%len(bench100kQ)], 10, nil)
				i++
			}
			// After the loop: b.Loop's first call resets the timer, which
			// also clears metrics reported before it.
			b.ReportMetric(recallAt10(b, bench100kH, bench100kF, bench100kQ), "recall@10")
		})
	}
}

func BenchmarkFlat100k(b *testing.B) {
	vecs := randomVectors(100000, 384, 31)
	f := NewFlat(384)
	for i, v := range vecs {
		f.Add(fmt.Sprint(i), v, nil)
	}
	queries := randomVectors(200, 384, 32)
	i := 0
	for b.Loop() {
		f.Search(queries[i%len(queries)], 10, nil)
		i++
	}
}

// clusteredVectors draws n vectors around 200 random centres (noise at a
// third of the centre's norm), closer to how text embeddings are spread
// than uniform random directions.
func clusteredVectors(n, dim int, seed uint64) [][]float32 {
	centres := randomVectors(200, dim, seed)
	r := rand.New(rand.NewPCG(seed, 9))
	out := make([][]float32, n)
	for i := range out {
		c := centres[r.IntN(len(centres))]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + float32(r.NormFloat64()*0.33)
		}
		out[i] = v
	}
	return out
}

// BenchmarkHNSWClustered50k: recall@10 and latency of HNSW against the
// exact scan on clustered 384-d vectors.
//
//	go test ./index -run '^$' -bench HNSWClustered -benchtime 200x
func BenchmarkHNSWClustered50k(b *testing.B) {
	vecs := clusteredVectors(50000, 384, 41)
	queries := clusteredVectors(200, 384, 41)[:200]
	// Queries from the same centres but fresh noise.
	r := rand.New(rand.NewPCG(43, 1))
	for _, q := range queries {
		for j := range q {
			q[j] += float32(r.NormFloat64() * 0.1)
		}
	}
	start := time.Now()
	h, f := buildBoth(vecs, DefaultHNSWConfig)
	fmt.Printf("clustered 50k×384 HNSW M=16 efConstruction=200 + flat: build %.1f s\n", time.Since(start).Seconds())
	for _, ef := range []int{32, 64, 128, 256} {
		b.Run(fmt.Sprintf("hnsw-ef=%d", ef), func(b *testing.B) {
			h.SetEfSearch(ef)
			i := 0
			for b.Loop() {
				h.Search(queries[i%len(queries)], 10, nil)
				i++
			}
			b.ReportMetric(recallAt10(b, h, f, queries), "recall@10")
		})
	}
	b.Run("flat", func(b *testing.B) {
		i := 0
		for b.Loop() {
			f.Search(queries[i%len(queries)], 10, nil)
			i++
		}
	})
}
