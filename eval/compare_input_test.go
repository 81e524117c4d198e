package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestCompareItems(t *testing.T) {
	def, err := DefaultItems(SuiteHallucination)
	if err != nil {
		t.Fatal(err)
	}
	all, err := CompareItems("", 0)
	if err != nil || len(all) != len(def) || len(def) < 3 {
		t.Fatalf("built-in set: %d items (%v), want %d", len(all), err, len(def))
	}
	two, err := CompareItems("", 2)
	if err != nil || len(two) != 2 || two[0].Question != def[0].Question {
		t.Errorf("limit 2: %d items, %v", len(two), err)
	}
	p := filepath.Join(t.TempDir(), "qa.jsonl")
	os.WriteFile(p, []byte(`{"question": "Q1?", "answers": ["a"]}`+"\n"+`{"instruction": "Q2?", "output": "b"}`+"\n"), 0o644)
	got, err := CompareItems(p, 5)
	if err != nil || len(got) != 2 || got[1].Question != "Q2?" {
		t.Errorf("from a file: %+v, %v", got, err)
	}
	if _, err := CompareItems(filepath.Join(t.TempDir(), "none.jsonl"), 0); err == nil {
		t.Error("a missing data file was no error")
	}
}

func TestDefaultRetriever(t *testing.T) {
	r, err := DefaultRetriever()
	if err != nil {
		t.Fatal(err)
	}
	items, err := DefaultItems(SuiteHallucination)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := r.Retrieve(context.Background(), items[0].Question, 3)
	if err != nil || len(ps) == 0 {
		t.Fatalf("no passage for %q: %v", items[0].Question, err)
	}
}
