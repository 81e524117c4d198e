package llm

import (
	"testing"
)

func TestSamplingOverride(t *testing.T) {
	base := Sampling{Temperature: 0.6, TopP: 0.95, Seed: -1}
	if !(SamplingOverride{}).Empty() {
		t.Error("a zero override is not empty")
	}
	got, err := SamplingOverride{}.Apply(base)
	if err != nil || got != base {
		t.Errorf("empty override: %+v, %v", got, err)
	}
	zero, k, seed, pen := 0.0, int64(40), int64(7), 1.1
	o := SamplingOverride{Temperature: &zero, TopK: &k, Seed: &seed, RepetitionPenalty: &pen}
	if o.Empty() {
		t.Error("a set override is empty")
	}
	got, err = o.Apply(base)
	want := Sampling{Temperature: 0, TopP: 0.95, TopK: 40, RepetitionPenalty: 1.1, Seed: 7}
	if err != nil || got != want {
		t.Errorf("Apply = %+v, %v; want %+v", got, err, want)
	}
	bad := 1.5
	if _, err := (SamplingOverride{TopP: &bad}).Apply(base); err == nil {
		t.Error("top_p 1.5 was accepted")
	}
}
