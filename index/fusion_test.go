package index

import (
	"math"
	"reflect"
	"testing"
)

func TestRRF(t *testing.T) {
	a := []Hit{{ID: "x", Score: 9}, {ID: "y", Score: 5}, {ID: "z", Score: 1}}
	b := []Hit{{ID: "z", Score: 0.9}, {ID: "x", Score: 0.8}}
	got := RRF([][]Hit{a, b}, nil, 60)
	want := []Hit{
		{ID: "x", Score: 1.0/61 + 1.0/62},
		{ID: "z", Score: 1.0/63 + 1.0/61},
		{ID: "y", Score: 1.0 / 62},
	}
	checkHits(t, got, want)
	// Weighting the second list twice puts z first.
	got = RRF([][]Hit{a, b}, []float64{1, 2}, 60)
	if got[0].ID != "z" {
		t.Errorf("weighted RRF first = %s, want z", got[0].ID)
	}
}

func TestRelativeScoreFusion(t *testing.T) {
	a := []Hit{{ID: "x", Score: 10}, {ID: "y", Score: 6}, {ID: "z", Score: 2}}
	b := []Hit{{ID: "y", Score: 0.9}, {ID: "z", Score: 0.5}, {ID: "x", Score: 0.4}}
	got := RelativeScoreFusion([][]Hit{a, b}, []float64{0.3, 0.7})
	want := []Hit{
		{ID: "y", Score: 0.3*0.5 + 0.7*1},
		{ID: "x", Score: 0.3*1 + 0.7*0},
		{ID: "z", Score: 0.3*0 + 0.7*0.2},
	}
	checkHits(t, got, want)
	// A list of equal scores contributes its full weight to each hit.
	got = RelativeScoreFusion([][]Hit{{{ID: "p", Score: 3}, {ID: "q", Score: 3}}}, nil)
	checkHits(t, got, []Hit{{ID: "p", Score: 1}, {ID: "q", Score: 1}})
}

func checkHits(t *testing.T, got, want []Hit) {
	t.Helper()
	if !reflect.DeepEqual(ids(got), ids(want)) {
		t.Fatalf("order %v, want %v", ids(got), ids(want))
	}
	for i := range got {
		if math.Abs(got[i].Score-want[i].Score) > 1e-12 {
			t.Errorf("%s: score %v, want %v", got[i].ID, got[i].Score, want[i].Score)
		}
	}
}
