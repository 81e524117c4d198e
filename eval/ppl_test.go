package eval

import (
	"math"
	"testing"

	"ragtune/model/qwen2"
	"ragtune/tokenizer"
)

// tinyDir writes the tiny preset with R1's byte-level vocabulary.
func tinyDir(t testing.TB, seed uint64) string {
	t.Helper()
	cfg, err := qwen2.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := qwen2.Init(dir, cfg, seed, tokenizer.ByteLevelR1()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tinyNet(t testing.TB) *qwen2.Model {
	t.Helper()
	m, err := qwen2.Load(tinyDir(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// refLogProb is log softmax(row)[target] by the textbook formula in
// float64, independent of LogProbOf.
func refLogProb(row []float32, target int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return float64(row[target]) - mx - math.Log(s)
}

// refScores runs tokens[b:e] in one ForwardAll from position 0 and returns
// the log-probability of each token at positions [from, e) (absolute).
func refScores(t *testing.T, m *qwen2.Model, tokens []int, b, from, e int) []float64 {
	t.Helper()
	V := m.VocabSize()
	st := m.NewState(e - b)
	logits := make([]float32, (e-b)*V)
	if err := st.ForwardAll(tokens[b:e], logits); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for i := from; i < e; i++ {
		p := i - 1 - b
		out = append(out, refLogProb(logits[p*V:(p+1)*V], tokens[i]))
	}
	return out
}

func testTokens(m *qwen2.Model, n int) []int {
	toks := make([]int, n)
	for i := range toks {
		toks[i] = (i*37 + 11) % 256
	}
	toks[0] = 259 // BOS
	return toks
}

func closeTo(t *testing.T, name string, got, want float64) {
	t.Helper()
	// The scorer and the reference prefill different spans, so attention
	// may take the tiled path (16+ tokens) in one and other tiles or the
	// per-row path in the other: float32 sums in a different order agree
	// to ~1e-8 relative; anything past 1e-7 is a real difference.
	if d := math.Abs(got - want); d > 1e-7*math.Max(1, math.Abs(want)) || math.IsNaN(got) {
		t.Errorf("%s = %.12g, want %.12g (diff %.3g)", name, got, want, d)
	}
}

func TestModelPerplexityEqualsDirectNLL(t *testing.T) {
	m := tinyNet(t)
	const n = 150 // more than two score chunks
	toks := testTokens(m, n)
	ref := refScores(t, m, toks, 0, 1, n)
	var nll float64
	for _, lp := range ref {
		nll -= lp
	}
	want := math.Exp(nll / float64(n-1))
	for _, tc := range []struct{ window, stride int }{{n, n}, {n, 1}, {4096, 512}, {n + 1, 7}} {
		p, err := ModelPerplexity(m, toks, tc.window, tc.stride)
		if err != nil {
			t.Fatal(err)
		}
		if got, wantN := p.Tokens, n-1; got != wantN {
			t.Errorf("window %d: scored %d tokens, want %d", tc.window, got, wantN)
		}
		closeTo(t, "PPL", p.Value(), want)
	}
}

func TestModelPerplexityWindows(t *testing.T) {
	m := tinyNet(t)
	toks := testTokens(m, 23)
	for _, tc := range []struct {
		name           string
		window, stride int
	}{
		{"overlapping", 8, 3},
		{"half stride", 8, 4},
		{"stride 1", 5, 1},
		{"disjoint", 6, 6},
		{"window 2", 2, 1},
		{"ragged end", 10, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := SlidingWindows(len(toks), tc.window, tc.stride)
			if err != nil {
				t.Fatal(err)
			}
			var want []float64
			for _, w := range plan {
				want = append(want, refScores(t, m, toks, w.Begin, w.ScoreFrom, w.End)...)
			}
			got, err := NewScorer(m, tc.window).WindowLogProbs(toks, tc.window, tc.stride, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d scores, want %d", len(got), len(want))
			}
			worst, at := 0.0, 0
			for i := range got {
				if d := math.Abs(got[i] - want[i]); d > worst {
					worst, at = d, i
				}
			}
			// Prefixes run through Forward rather than ForwardAll, whose
			// float32 sums may round differently.
			if worst > 1e-5 {
				t.Errorf("worst score %d: got %.12g, want %.12g", at, got[at], want[at])
			}
			// Every token after the first is scored once, except the
			// first token of each disjoint chunk.
			wantN := len(toks) - 1
			if tc.stride == tc.window {
				wantN = len(toks) - (len(toks)+tc.window-1)/tc.window
			}
			if len(got) != wantN {
				t.Errorf("scored %d tokens, want %d", len(got), wantN)
			}
		})
	}
}

func TestModelPerplexityErrors(t *testing.T) {
	m := tinyNet(t)
	toks := testTokens(m, 20)
	for _, tc := range []struct {
		name           string
		toks           []int
		window, stride int
	}{
		{"window 1", toks, 1, 1},
		{"stride 0", toks, 8, 0},
		{"stride above window", toks, 8, 9},
		{"window above model context", testTokens(m, 2100), 2100, 100},
	} {
		if _, err := ModelPerplexity(m, tc.toks, tc.window, tc.stride); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// One token has nothing to predict: no tokens, no error.
	p, err := ModelPerplexity(m, toks[:1], 8, 4)
	if err != nil || p.Tokens != 0 {
		t.Errorf("one token: %d tokens, err %v; want 0, nil", p.Tokens, err)
	}
}

func TestMaskedLogProbs(t *testing.T) {
	m := tinyNet(t)
	toks := testTokens(m, 30)
	labels := make([]int32, len(toks))
	for i := range labels {
		labels[i] = -100
	}
	for _, i := range []int{0, 12, 13, 14, 20, 29} { // label 0 never counts
		labels[i] = int32(toks[i])
	}
	got, err := NewScorer(m, 64).MaskedLogProbs(toks, labels)
	if err != nil {
		t.Fatal(err)
	}
	all := refScores(t, m, toks, 0, 1, len(toks))
	want := []float64{all[11], all[12], all[13], all[19], all[28]}
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d", len(got), len(want))
	}
	for i := range want {
		closeTo(t, "masked log-prob", got[i], want[i])
	}
	for i := range labels {
		labels[i] = -100
	}
	if _, err := NewScorer(m, 64).MaskedLogProbs(toks, labels); err == nil {
		t.Error("no labels: no error")
	}
}

func TestSamplesPerplexity(t *testing.T) {
	m := tinyNet(t)
	a, b := testTokens(m, 9), testTokens(m, 30)
	rep, err := NewScorer(m, 16).SamplesPerplexity([][]int{a, b}, 16, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := ModelPerplexity(m, a, 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ModelPerplexity(m, b, 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Samples != 2 || rep.Tokens != pa.Tokens+pb.Tokens {
		t.Errorf("%d samples, %d tokens; want 2, %d", rep.Samples, rep.Tokens, pa.Tokens+pb.Tokens)
	}
	closeTo(t, "mean of samples", rep.MeanOfSamples, (pa.Value()+pb.Value())/2)
	both := pa
	both.Merge(pb)
	closeTo(t, "corpus", rep.Corpus, both.Value())
	if _, err := NewScorer(m, 16).SamplesPerplexity([][]int{a, a[:1]}, 16, 8, nil); err == nil {
		t.Error("one-token sample: no error")
	}
}
