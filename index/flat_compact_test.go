package index

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"
)

// TestFlatSaveLoadFormats saves a flat index in the current format and in
// the earlier gob one (metadata per row) and requires both to load into
// an index giving the same hits, scores and metadata, with the rows'
// equal metadata interned into one map.
func TestFlatSaveLoadFormats(t *testing.T) {
	vecs := randomVectors(500, 16, 7)
	f := NewFlat(16)
	for i, v := range vecs {
		if err := f.Add(fmt.Sprint(i), v, map[string]string{"source": fmt.Sprint(i / 10)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 500; i += 3 {
		f.Delete(fmt.Sprint(i))
	}
	if got, want := len(f.metas.maps), 1+50; got != want {
		t.Errorf("%d interned metadata maps for 50 sources, want %d", got, want)
	}
	var cur, old bytes.Buffer
	if err := f.Save(&cur); err != nil {
		t.Fatal(err)
	}
	v1 := flatFileV1{Dim: f.dim, Vecs: f.vecs, IDs: f.ids, Alive: f.alive}
	for _, m := range f.metaOf {
		v1.Meta = append(v1.Meta, f.metas.get(m))
	}
	if err := writeChecked(&old, flatKindV1, &v1); err != nil {
		t.Fatal(err)
	}
	for name, buf := range map[string]*bytes.Buffer{"current": &cur, "earlier": &old} {
		g, err := LoadFlat(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("%s format: %v", name, err)
		}
		if g.Len() != f.Len() {
			t.Fatalf("%s format: %d rows, want %d", name, g.Len(), f.Len())
		}
		if len(g.metas.maps) > len(f.metas.maps) {
			t.Errorf("%s format: %d metadata maps after loading, %d before", name, len(g.metas.maps), len(f.metas.maps))
		}
		filter := MetaEquals(map[string]string{"source": "7"})
		for qi, q := range randomVectors(10, 16, 8) {
			for _, fl := range []Filter{nil, filter} {
				want, _ := f.Search(q, 8, fl)
				got, _ := g.Search(q, 8, fl)
				sameHits(t, fmt.Sprintf("%s format query %d", name, qi), got, want)
			}
		}
		b := bytes.Clone(buf.Bytes())
		b[len(b)/2] ^= 1
		if _, err := LoadFlat(bytes.NewReader(b)); err == nil {
			t.Errorf("%s format: damage not detected", name)
		}
	}
}

// TestFlatShareIDs checks that after ShareIDs the flat index holds the
// BM25 index's id strings (one copy each) and still finds and deletes by
// id.
func TestFlatShareIDs(t *testing.T) {
	x := NewBM25(DefaultBM25Params, nil)
	f := NewFlat(8)
	vecs := randomVectors(50, 8, 9)
	for i, v := range vecs {
		x.Add(Doc{ID: fmt.Sprintf("doc#%d", i), Text: fmt.Sprintf("text %d", i)})
		f.Add(fmt.Sprintf("doc#%d", i), v, nil)
	}
	f.ShareIDs(x)
	for i, id := range f.ids {
		if unsafe.StringData(id) != unsafe.StringData(x.ids[i]) {
			t.Fatalf("row %d: id %q not shared", i, id)
		}
	}
	hits, _ := f.Search(vecs[7], 1, nil)
	if len(hits) != 1 || hits[0].ID != "doc#7" {
		t.Fatalf("hits %v, want doc#7", hits)
	}
	if !f.Delete("doc#7") || f.Len() != 49 {
		t.Fatal("delete by id after sharing failed")
	}
}
