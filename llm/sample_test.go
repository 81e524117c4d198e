package llm

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// logitsFor returns logits whose softmax is probs (up to float32 rounding).
func logitsFor(probs ...float64) []float32 {
	l := make([]float32, len(probs))
	for i, p := range probs {
		l[i] = float32(math.Log(p))
	}
	return l
}

// survivors runs the filters and returns the surviving ids (sorted) and
// their normalized probabilities by id.
func survivors(t *testing.T, p Sampling, logits []float32, prompt, output []int) ([]int, map[int]float64) {
	t.Helper()
	s := NewSampler(len(logits), p)
	s.Reset(p, prompt)
	for _, id := range output {
		s.Accept(id)
	}
	n, total := s.filter(logits)
	if n == 0 {
		return []int{argmax(s.logits[:len(logits)])}, nil
	}
	ids := make([]int, n)
	probs := map[int]float64{}
	for j := range n {
		ids[j] = int(s.cand[j])
		probs[ids[j]] = s.prob[j] / total
	}
	slices.Sort(ids)
	return ids, probs
}

func TestFilters(t *testing.T) {
	halves := logitsFor(0.5, 0.25, 0.125, 0.0625, 0.0625)
	tests := []struct {
		name   string
		p      Sampling
		logits []float32
		want   []int
	}{
		{"greedy", Sampling{}, []float32{1, 3, 2, 3}, []int{1}}, // tie → lowest id
		{"temperature only keeps all", Sampling{Temperature: 1}, halves, []int{0, 1, 2, 3, 4}},
		{"top-k 2", Sampling{Temperature: 1, TopK: 2}, []float32{0.1, 5, -1, 4, 4.5}, []int{1, 4}},
		{"top-k tie to lower id", Sampling{Temperature: 1, TopK: 2}, []float32{1, 2, 2, 2}, []int{1, 2}},
		{"top-k larger than vocab", Sampling{Temperature: 1, TopK: 10}, []float32{1, 2}, []int{0, 1}},
		{"top-p 0.7", Sampling{Temperature: 1, TopP: 0.7}, halves, []int{0, 1}},
		{"top-p 0.8", Sampling{Temperature: 1, TopP: 0.8}, halves, []int{0, 1, 2}},
		{"top-p 0.4 keeps one", Sampling{Temperature: 1, TopP: 0.4}, halves, []int{0}},
		{"top-p 1 is off", Sampling{Temperature: 1, TopP: 1}, halves, []int{0, 1, 2, 3, 4}},
		{"min-p 0.3", Sampling{Temperature: 1, MinP: 0.3}, halves, []int{0, 1}},
		{"min-p 0.2", Sampling{Temperature: 1, MinP: 0.2}, halves, []int{0, 1, 2}},
		// Temperature 0.5 squares the ratios: 0.5:0.25:0.125 → 16:4:1 of 21.25;
		// the first two hold 0.94 of the mass, so top-p 0.9 keeps two.
		{"temperature before top-p", Sampling{Temperature: 0.5, TopP: 0.9}, halves, []int{0, 1}},
		{"top-k then top-p", Sampling{Temperature: 1, TopK: 3, TopP: 0.8}, halves, []int{0, 1}},
		{"top-k 1 is the argmax", Sampling{Temperature: 2, TopK: 1}, []float32{0.5, 3, 2.9}, []int{1}},
		{"min-p 1 keeps the best and its ties", Sampling{Temperature: 1, MinP: 1}, []float32{1, 3, 3, 2}, []int{1, 2}},
		{"all three filters", Sampling{Temperature: 1, TopK: 4, TopP: 0.99, MinP: 0.2}, halves, []int{0, 1, 2}},
		{"-inf never survives", Sampling{Temperature: 1}, []float32{float32(math.Inf(-1)), 1, float32(math.NaN())}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, probs := survivors(t, tc.p, tc.logits, nil, nil)
			if tc.name == "-inf never survives" {
				// Zero-probability candidates may stay in the list; they can never be drawn.
				got = slices.DeleteFunc(got, func(id int) bool { return probs[id] == 0 })
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("survivors = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterRenormalizes(t *testing.T) {
	_, probs := survivors(t, Sampling{Temperature: 1, TopP: 0.8}, logitsFor(0.5, 0.25, 0.125, 0.0625, 0.0625), nil, nil)
	want := map[int]float64{0: 4.0 / 7, 1: 2.0 / 7, 2: 1.0 / 7}
	for id, w := range want {
		if got := probs[id]; math.Abs(got-w) > 1e-6 {
			t.Errorf("p(%d) = %.7f, want %.7f", id, got, w)
		}
	}
}

// TestTopPLargeVocab needs more than the first 64 candidates, so the
// incremental selection must widen; it is checked against a full sort.
func TestTopPLargeVocab(t *testing.T) {
	const V = 5000
	r := newRNG(7)
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32(r.float64() * 3)
	}
	for _, tp := range []float64{0.05, 0.3, 0.9, 0.999} {
		got, _ := survivors(t, Sampling{Temperature: 0.7, TopP: tp}, logits, nil, nil)

		// Reference: sort all, keep while the mass before the token is < tp.
		ids := make([]int, V)
		for i := range ids {
			ids[i] = i
		}
		slices.SortFunc(ids, func(a, b int) int {
			if logits[a] != logits[b] {
				if logits[a] > logits[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		w := make([]float64, V)
		var sum float64
		for i, id := range ids {
			w[i] = math.Exp(float64(logits[id]-logits[ids[0]]) / 0.7)
			sum += w[i]
		}
		var want []int
		var acc float64
		for i, id := range ids {
			if acc >= tp*sum {
				break
			}
			want = append(want, id)
			acc += w[i]
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("top-p %v: %d survivors, want %d", tp, len(got), len(want))
		}
	}
}

func TestPenalties(t *testing.T) {
	tests := []struct {
		name           string
		p              Sampling
		prompt, output []int
		want           []float32
	}{
		{"repetition divides positive, multiplies negative",
			Sampling{RepetitionPenalty: 2}, []int{0, 1}, nil, []float32{1, -4, 1, 0.5}},
		{"repetition counts a token once",
			Sampling{RepetitionPenalty: 2}, []int{0, 0, 0}, nil, []float32{1, -2, 1, 0.5}},
		{"repetition covers output too",
			Sampling{RepetitionPenalty: 2}, nil, []int{2}, []float32{2, -2, 0.5, 0.5}},
		{"repetition window keeps the last N",
			Sampling{RepetitionPenalty: 2, RepetitionWindow: 2}, []int{0, 1, 2}, nil, []float32{2, -4, 0.5, 0.5}},
		{"window slides over output",
			Sampling{RepetitionPenalty: 2, RepetitionWindow: 1}, []int{0}, []int{3}, []float32{2, -2, 1, 0.25}},
		{"frequency and presence on output only",
			Sampling{FrequencyPenalty: 0.5, PresencePenalty: 0.25}, []int{1}, []int{0, 0, 2},
			[]float32{2 - 2*0.5 - 0.25, -2, 1 - 0.5 - 0.25, 0.5}},
		{"penalty 1 is off", Sampling{RepetitionPenalty: 1}, []int{0, 1}, nil, []float32{2, -2, 1, 0.5}},
	}
	base := []float32{2, -2, 1, 0.5}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSampler(len(base), tc.p)
			s.Reset(tc.p, tc.prompt)
			for _, id := range tc.output {
				s.Accept(id)
			}
			got := slices.Clone(base)
			s.penalize(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("penalized logits = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPenaltyChangesGreedyChoice(t *testing.T) {
	p := Sampling{RepetitionPenalty: 3}
	s := NewSampler(3, p)
	s.Reset(p, []int{0})
	if got, want := s.Sample([]float32{2, 1, 0}), 1; got != want {
		t.Errorf("greedy with token 0 penalized = %d, want %d", got, want)
	}
	// Reset must forget the previous prompt's counts.
	s.Reset(p, nil)
	if got, want := s.Sample([]float32{2, 1, 0}), 0; got != want {
		t.Errorf("greedy after Reset = %d, want %d", got, want)
	}
}

func draws(p Sampling, logits []float32, n int) []int {
	s := NewSampler(len(logits), p)
	out := make([]int, n)
	for i := range out {
		out[i] = s.Sample(logits)
	}
	return out
}

func TestSeedDeterminism(t *testing.T) {
	logits := []float32{1, 1.1, 0.9, 1.05, 0.2, 0.7}
	p := Sampling{Temperature: 1, TopP: 0.95, Seed: 42}
	a, b := draws(p, logits, 200), draws(p, logits, 200)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed gave different draws:\n%v\n%v", a, b)
	}
	p.Seed = 43
	if c := draws(p, logits, 200); slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 gave the same 200 draws")
	}
}

// TestTemperatureDistribution draws many tokens with a fixed seed and
// compares the counts with softmax(logits/T) by Pearson's chi-square.
func TestTemperatureDistribution(t *testing.T) {
	logits := []float32{2, 1, 0.5, 0, -1}
	for _, temp := range []float64{0.5, 1, 2} {
		t.Run(fmt.Sprintf("T=%v", temp), func(t *testing.T) {
			const N = 40000
			counts := make([]int, len(logits))
			for _, id := range draws(Sampling{Temperature: temp, Seed: 1}, logits, N) {
				counts[id]++
			}
			var z float64
			want := make([]float64, len(logits))
			for i, l := range logits {
				want[i] = math.Exp(float64(l) / temp)
				z += want[i]
			}
			var chi2 float64
			for i := range want {
				e := want[i] / z * N
				chi2 += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
			}
			// 18.47 is the 0.999 quantile of chi-square with 4 degrees of freedom.
			if chi2 > 18.47 {
				t.Errorf("chi-square %.2f > 18.47: counts %v, expected proportions %v", chi2, counts, want)
			}
		})
	}
}

func TestSampleNeverPicksFiltered(t *testing.T) {
	logits := logitsFor(0.5, 0.25, 0.125, 0.0625, 0.0625)
	for _, id := range draws(Sampling{Temperature: 1.5, TopK: 4, MinP: 0.3, Seed: 3}, logits, 2000) {
		if id > 2 {
			t.Fatalf("drew token %d, which min-p 0.3 removes", id)
		}
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	const V = 32000
	r := newRNG(1)
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32(r.float64()*10 - 5)
	}
	p := Sampling{Temperature: 0.6, TopP: 0.95, TopK: 100, MinP: 0.01, RepetitionPenalty: 1.1, FrequencyPenalty: 0.1, Seed: 1}
	s := NewSampler(V, p)
	s.Reset(p, []int{1, 2, 3})
	for _, p := range []Sampling{p, {Temperature: 0.6, TopP: 0.95, Seed: 1}} {
		s.Reset(p, []int{1, 2, 3})
		if got := testing.AllocsPerRun(20, func() { s.Accept(s.Sample(logits)) }); got != 0 {
			t.Errorf("%+v: %v allocations per token, want 0", p, got)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Sampling{
		{Temperature: -1}, {TopP: 1.5}, {MinP: -0.1}, {TopK: -2},
		{RepetitionPenalty: -1}, {Temperature: math.NaN()}, {FrequencyPenalty: math.Inf(1)},
	}
	for _, p := range bad {
		if p.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", p)
		}
	}
	if err := (Sampling{Temperature: 0.6, TopP: 0.95}).Validate(); err != nil {
		t.Errorf("Validate(R1 defaults) = %v", err)
	}
}

// BenchmarkSample measures one token's sampling over the R1 vocabulary
// with its recommended parameters.
func BenchmarkSample(b *testing.B) {
	const V = 151936
	r := newRNG(1)
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32(r.float64()*20 - 10)
	}
	for _, p := range []Sampling{{}, {Temperature: 0.6, TopP: 0.95}, {Temperature: 0.6, TopK: 40}} {
		b.Run(fmt.Sprintf("T=%v/topP=%v/topK=%d", p.Temperature, p.TopP, p.TopK), func(b *testing.B) {
			s := NewSampler(V, p)
			for b.Loop() {
				s.Sample(logits)
			}
		})
	}
}

// BenchmarkTopPFullSortPeer is the plain way to do top-p, for comparison
// with BenchmarkSample's T=0.6/topP=0.95: softmax over the vocabulary,
// sort every token by probability, cut at the mass, draw.
func BenchmarkTopPFullSortPeer(b *testing.B) {
	const V = 151936
	r := newRNG(1)
	logits := make([]float32, V)
	for i := range logits {
		logits[i] = float32(r.float64()*20 - 10)
	}
	ids := make([]int32, V)
	probs := make([]float64, V)
	for b.Loop() {
		mx := logits[argmax(logits)]
		var sum float64
		for i, l := range logits {
			probs[i] = math.Exp(float64(l-mx) / 0.6)
			sum += probs[i]
			ids[i] = int32(i)
		}
		slices.SortFunc(ids, func(a, b int32) int {
			switch {
			case probs[a] > probs[b]:
				return -1
			case probs[a] < probs[b]:
				return 1
			}
			return int(a - b)
		})
		var acc float64
		n := 0
		for n < V && acc < 0.95*sum {
			acc += probs[ids[n]]
			n++
		}
		u := r.float64() * acc
		for _, id := range ids[:n] {
			if u -= probs[id]; u < 0 {
				break
			}
		}
	}
}
