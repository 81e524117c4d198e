package eval

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

func TestSuiteData(t *testing.T) {
	d := SuiteData{}
	fs := flag.NewFlagSet("eval run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(d, "data", "")
	if err := fs.Parse([]string{"--data", "overfit=a.jsonl", "--data", "safety=probes=v2.jsonl"}); err != nil {
		t.Fatal(err)
	}
	want := SuiteData{SuiteOverfit: "a.jsonl", SuiteSafety: "probes=v2.jsonl"}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got %v, want %v", d, want)
	}
	for _, bad := range []string{"overfit", "=x.jsonl", "overfit=", "all=x.jsonl", "typos=x.jsonl"} {
		if err := (SuiteData{}).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
