package index

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"ragtune/internal/cputime"
)

// randomCorpusDoc is a document of Zipf-distributed words, some repeated
// (term frequencies above one, and above 127 for the multi-byte varint
// path), with metadata shared by groups of documents as a file's chunks
// share theirs.
func randomCorpusDoc(rng *rand.Rand, zipf *rand.Zipf, i int) Doc {
	var b strings.Builder
	for range 5 + rng.IntN(60) {
		fmt.Fprintf(&b, "w%d ", zipf.Uint64())
	}
	if i%37 == 0 {
		b.WriteString(strings.Repeat("often ", 200))
	}
	return Doc{ID: fmt.Sprintf("doc%d", i), Text: b.String(), Meta: map[string]string{"source": fmt.Sprintf("file%d", i/10), "title": "t"}}
}

// sameHits fails unless got and want rank the same documents with
// bit-identical scores and equal metadata.
func sameHits(t *testing.T, what string, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Score != want[i].Score || !reflect.DeepEqual(got[i].Meta, want[i].Meta) {
			t.Fatalf("%s: hit %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestBM25CompactMatchesReference drives the compact index and the earlier
// layout (bm25_ref_test.go) through the same adds, replacements and
// deletes (past the compaction threshold) and requires the same ranked
// hits and scores, bit for bit, before and after saving and loading in
// either format.
func TestBM25CompactMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.2, 3, 3000)
	p := BM25Params{K1: 0.9, B: 0.4}
	x, ref := NewBM25(p, strings.Fields), newRefBM25(p, strings.Fields)
	var queries []string
	for range 60 {
		queries = append(queries, fmt.Sprintf("w%d w%d often", zipf.Uint64(), rng.IntN(400)))
	}
	filter := func(m map[string]string) bool { return m["source"] != "file3" }
	check := func(stage string, x *BM25) {
		t.Helper()
		if x.Len() != ref.Len() {
			t.Fatalf("%s: Len %d, reference %d", stage, x.Len(), ref.Len())
		}
		for _, q := range queries {
			sameHits(t, stage+" "+q, x.Search(q, 10, nil), ref.Search(q, 10, nil))
			sameHits(t, stage+" filtered "+q, x.Search(q, 7, filter), ref.Search(q, 7, filter))
		}
	}
	next := 0
	add := func(n int) {
		batch := make([]Doc, n)
		for i := range batch {
			batch[i] = randomCorpusDoc(rng, zipf, next)
			next++
		}
		x.AddBatch(batch)
		ref.AddBatch(batch)
	}
	add(1500)
	check("added", x)
	// Replace some documents, then delete enough to compact.
	for i := 0; i < 300; i += 3 {
		d := randomCorpusDoc(rng, zipf, 5000+i)
		d.ID = fmt.Sprintf("doc%d", i)
		x.Add(d)
		ref.Add(d)
	}
	check("replaced", x)
	for i := 100; i < 900; i += 2 {
		if a, b := x.Delete(fmt.Sprintf("doc%d", i)), ref.Delete(fmt.Sprintf("doc%d", i)); a != b {
			t.Fatalf("Delete(doc%d) = %v, reference %v", i, a, b)
		}
		if i == 300 {
			check("deleted some", x) // dead documents present, before compaction
		}
	}
	if x.dead >= 400 {
		t.Fatalf("%d dead documents: the deletes never compacted the index", x.dead)
	}
	add(200)
	check("deleted and added", x)

	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := LoadBM25(bytes.NewReader(buf.Bytes()), strings.Fields)
	if err != nil {
		t.Fatal(err)
	}
	check("loaded", y)

	// The earlier format loads into the same index.
	var old bytes.Buffer
	if err := ref.Save(&old); err != nil {
		t.Fatal(err)
	}
	z, err := LoadBM25(bytes.NewReader(old.Bytes()), strings.Fields)
	if err != nil {
		t.Fatalf("load the earlier format: %v", err)
	}
	check("loaded from the earlier format", z)
	// Both keep working as indexes after loading.
	add(50)
	y.AddBatch(nil)
	if got := ids(y.Search("often", 3, nil)); len(got) == 0 {
		t.Error("loaded index finds nothing")
	}
}

// TestBM25SaveIsFramed checks that a saved index reads back from a
// *bufio.Reader without reading past its end, and that damage anywhere in
// it (header, payload, trailer) is reported as ErrCorrupt.
func TestBM25SaveIsFramed(t *testing.T) {
	x := NewBM25(DefaultBM25Params, strings.Fields)
	for i := range 100 {
		x.Add(Doc{ID: fmt.Sprint(i), Text: fmt.Sprintf("a b%d c%d", i, i%7), Meta: map[string]string{"k": fmt.Sprint(i % 3)}})
	}
	var buf bytes.Buffer
	x.Save(&buf)
	n := buf.Len()
	buf.WriteString("after")
	br := bufio.NewReader(bytes.NewReader(buf.Bytes()))
	if _, err := LoadBM25(br, strings.Fields); err != nil {
		t.Fatal(err)
	}
	if rest, _ := br.ReadString(0); rest != "after" {
		t.Fatalf("after the index the reader holds %q, want %q", rest, "after")
	}
	for _, off := range []int{3, 20, n / 2, n - 5} {
		b := bytes.Clone(buf.Bytes()[:n])
		b[off] ^= 0x5a
		if _, err := LoadBM25(bytes.NewReader(b), strings.Fields); err == nil {
			t.Errorf("damage at byte %d of %d not detected", off, n)
		}
	}
	if _, err := LoadBM25(bytes.NewReader(buf.Bytes()[:n-1]), strings.Fields); err == nil {
		t.Error("a truncated index loaded")
	}
}

// TestBM25KeepsNoTextAlive checks that terms are copies, not slices of
// the indexed text, so the index does not pin documents' text.
func TestBM25KeepsNoTextAlive(t *testing.T) {
	x := NewBM25(DefaultBM25Params, strings.Fields)
	text := "alpha beta gamma"
	x.Add(Doc{ID: "a", Text: text})
	lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	for term := range x.terms {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(term))); p >= lo && p < lo+uintptr(len(text)) {
			t.Errorf("term %q points into the document text", term)
		}
	}
}

// BenchmarkBM25Search compares query cost of the compact layout with the
// earlier one (bm25_ref_test.go) on the same 100k documents of Zipf words
// (whitespace tokens, so building stays quick) and the same queries:
//
//	go test ./index -run '^$' -bench BM25Search -benchtime 2000x
func BenchmarkBM25Search(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	zipf := rand.NewZipf(rng, 1.1, 2, 50000)
	docs := make([]Doc, 100000)
	for i := range docs {
		docs[i] = randomCorpusDoc(rng, zipf, i)
	}
	queries := make([]string, 200)
	for i := range queries {
		queries[i] = fmt.Sprintf("w%d w%d w%d", 20+rng.IntN(2000), 20+rng.IntN(2000), rng.IntN(50))
	}
	p := BM25Params{K1: 0.9, B: 0.4}
	x, ref := NewBM25(p, strings.Fields), newRefBM25(p, strings.Fields)
	x.AddBatch(docs)
	ref.AddBatch(docs)
	for _, c := range []struct {
		name   string
		search func(string, int, Filter) []Hit
	}{{"compact", x.Search}, {"earlier", ref.Search}} {
		b.Run(c.name, func(b *testing.B) {
			i, cpu := 0, cputime.Process()
			for b.Loop() {
				c.search(queries[i%len(queries)], 10, nil)
				i++
			}
			// CPU time too: on a shared machine wall time varies more.
			b.ReportMetric(float64((cputime.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
