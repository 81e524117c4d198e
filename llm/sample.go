package llm

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Sampling holds the decoding parameters of one request. The zero value is
// greedy decoding with no penalties and seed 0.
//
// Order of application, as in Hugging Face transformers and vLLM:
// penalties → temperature → top-k → top-p → min-p → draw. (llama.cpp's
// default chain applies temperature last, so its top-p set is computed on
// untempered probabilities; with temperature 0.6 and top-p 0.95 ours keeps
// fewer tokens, as transformers does.)
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax after
	// penalties, ties to the lowest id).
	Temperature float64 `json:"temperature"`
	// TopK keeps the K most likely tokens; 0 turns it off.
	TopK int `json:"top_k,omitempty"`
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches P (nucleus sampling); 0 or 1 turns it off.
	TopP float64 `json:"top_p,omitempty"`
	// MinP drops tokens less likely than MinP times the most likely one;
	// 0 turns it off.
	MinP float64 `json:"min_p,omitempty"`
	// RepetitionPenalty (HF/llama.cpp semantics) divides the positive
	// logits and multiplies the negative logits of every token seen in the
	// prompt or the output; 0 or 1 turns it off.
	RepetitionPenalty float64 `json:"repetition_penalty,omitempty"`
	// RepetitionWindow limits RepetitionPenalty to the last N tokens of
	// prompt+output (llama.cpp's penalty_last_n); 0 means all of them (HF).
	RepetitionWindow int `json:"repetition_window,omitempty"`
	// FrequencyPenalty and PresencePenalty (OpenAI semantics) subtract
	// count×frequency + presence from the logit of every token already in
	// the output (not the prompt).
	FrequencyPenalty float64 `json:"frequency_penalty,omitempty"`
	PresencePenalty  float64 `json:"presence_penalty,omitempty"`
	// Seed makes sampling reproducible: the same seed, model, prompt and
	// parameters give the same tokens. Negative means a fresh random seed.
	Seed int64 `json:"seed"`
}

// Greedy reports whether s always picks the most likely token.
func (s Sampling) Greedy() bool { return s.Temperature <= 0 }

// Validate rejects parameters that have no meaning, so a typo in a flag or
// an API request fails loudly instead of silently sampling something else.
func (s Sampling) Validate() error {
	var errs []error
	finite := func(name string, v float64) bool {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("%s must be a finite number (got %v)", name, v))
			return false
		}
		return true
	}
	if finite("temperature", s.Temperature) && s.Temperature < 0 {
		errs = append(errs, fmt.Errorf("temperature must be >= 0 (got %v)", s.Temperature))
	}
	if s.TopK < 0 {
		errs = append(errs, fmt.Errorf("top_k must be >= 0 (got %d)", s.TopK))
	}
	if finite("top_p", s.TopP) && (s.TopP < 0 || s.TopP > 1) {
		errs = append(errs, fmt.Errorf("top_p must be in [0, 1] (got %v)", s.TopP))
	}
	if finite("min_p", s.MinP) && (s.MinP < 0 || s.MinP > 1) {
		errs = append(errs, fmt.Errorf("min_p must be in [0, 1] (got %v)", s.MinP))
	}
	if finite("repetition_penalty", s.RepetitionPenalty) && s.RepetitionPenalty < 0 {
		errs = append(errs, fmt.Errorf("repetition_penalty must be >= 0 (got %v)", s.RepetitionPenalty))
	}
	if s.RepetitionWindow < 0 {
		errs = append(errs, fmt.Errorf("repetition_window must be >= 0 (got %d)", s.RepetitionWindow))
	}
	finite("frequency_penalty", s.FrequencyPenalty)
	finite("presence_penalty", s.PresencePenalty)
	return errors.Join(errs...)
}

// Sampler picks the next token from a logits vector. It keeps the token
// counts the penalties need and a private PRNG; all of its buffers are
// allocated once per vocabulary size, so sampling a token allocates nothing.
// A Sampler is not safe for concurrent use: each generation owns one.
type Sampler struct {
	p   Sampling
	rng rng

	logits []float32 // (V) working copy: penalties and temperature applied
	cand   []int32   // (V) candidate token ids; the first n are alive
	prob   []float64 // (V) prob[j] belongs to cand[j]
	edge   []int32   // (V) top-p: candidates of the bucket where the mass crosses P

	seen    []int32 // (V) occurrences inside the repetition window
	out     []int32 // (V) occurrences in the output
	listed  []bool  // (V) id is in ids (seen or out was ever non-zero)
	ids     []int32 // distinct ids to visit when penalizing or resetting
	history []int32 // prompt+output, for the sliding repetition window
	nOutput int
}

// NewSampler returns a sampler for a vocabulary of size vocab with
// parameters p; call Reset before each generation.
func NewSampler(vocab int, p Sampling) *Sampler {
	s := &Sampler{}
	s.grow(vocab)
	s.Reset(p, nil)
	return s
}

func (s *Sampler) grow(vocab int) {
	if len(s.logits) >= vocab {
		return
	}
	s.logits = make([]float32, vocab)
	s.cand = make([]int32, vocab)
	s.prob = make([]float64, vocab)
	s.edge = make([]int32, 0, vocab)
	seen, out, listed := make([]int32, vocab), make([]int32, vocab), make([]bool, vocab)
	// Keep counts already gathered for ids below the old size.
	copy(seen, s.seen)
	copy(out, s.out)
	copy(listed, s.listed)
	s.seen, s.out, s.listed = seen, out, listed
}

// Reset starts a new generation with parameters p after prompt; the prompt
// tokens count for the repetition penalty.
func (s *Sampler) Reset(p Sampling, prompt []int) {
	s.p = p
	seed := uint64(p.Seed)
	if p.Seed < 0 {
		seed = randomSeed()
	}
	s.rng.seed(seed)
	for _, id := range s.ids {
		s.seen[id], s.out[id], s.listed[id] = 0, 0, false
	}
	s.ids = s.ids[:0]
	s.history = s.history[:0]
	s.nOutput = 0
	for _, id := range prompt {
		s.observe(id, false)
	}
}

// Accept records a token the generation produced, for the penalties.
func (s *Sampler) Accept(id int) { s.observe(id, true) }

func (s *Sampler) observe(id int, output bool) {
	if id < 0 {
		return
	}
	if id >= len(s.seen) {
		s.grow(id + 1)
	}
	if !s.listed[id] {
		s.listed[id] = true
		s.ids = append(s.ids, int32(id))
	}
	s.seen[id]++
	if output {
		s.out[id]++
		s.nOutput++
	}
	if w := s.p.RepetitionWindow; w > 0 {
		s.history = append(s.history, int32(id))
		if len(s.history) > w {
			s.seen[s.history[len(s.history)-w-1]]--
		}
		// Keep the slice from growing without bound on long generations.
		if len(s.history) >= 4*w+1024 {
			n := copy(s.history, s.history[len(s.history)-w:])
			s.history = s.history[:n]
		}
	}
}

// Sample returns the next token id for logits (one row of the vocabulary).
// It does not record the token; call Accept with the id that is kept.
func (s *Sampler) Sample(logits []float32) int {
	if len(logits) == 0 {
		return -1
	}
	n, total := s.filter(logits)
	if n == 0 {
		return argmax(s.logits[:len(logits)])
	}
	u := s.rng.float64() * total
	prob := s.prob[:n]
	var acc float64
	for j, p := range prob {
		acc += p
		if u < acc {
			return int(s.cand[j])
		}
	}
	// Rounding left u at the very top: the last candidate with mass wins.
	for j := n - 1; j >= 0; j-- {
		if prob[j] > 0 {
			return int(s.cand[j])
		}
	}
	return int(s.cand[0])
}

// filter applies penalties, temperature and the truncations to logits and
// leaves the surviving tokens in cand[:n] with unnormalized probabilities
// prob[:n] summing to total. n == 0 means "take the argmax of s.logits":
// greedy decoding, or no token with any probability.
func (s *Sampler) filter(logits []float32) (n int, total float64) {
	V := len(logits)
	s.grow(V)
	l := s.logits[:V]
	for i, v := range logits {
		if v != v { // NaN would break every comparison below
			v = float32(math.Inf(-1))
		}
		l[i] = v
	}
	s.penalize(l)
	if s.p.Greedy() {
		return 0, 0
	}
	invT := float32(1 / s.p.Temperature)
	for i := range l {
		l[i] *= invT
	}
	cand := s.cand[:V]
	n = V
	if k := s.p.TopK; k > 0 && k < n {
		s.topK(k)
		n = k
	} else {
		for i := range cand {
			cand[i] = int32(i)
		}
	}
	var mx float32
	total, mx = s.softmax(cand[:n])
	if !(total > 0) { // everything -Inf: nothing to draw from
		return 0, 0
	}
	if tp := s.p.TopP; tp > 0 && tp < 1 {
		n, total = s.topP(n, total, tp, mx)
	}
	if mp := s.p.MinP; mp > 0 {
		n, total = s.minP(n, mp)
	}
	return n, total
}

// penalize applies the repetition, frequency and presence penalties in
// place, visiting only the tokens that occurred.
func (s *Sampler) penalize(l []float32) {
	rep := float32(s.p.RepetitionPenalty)
	useRep := rep > 0 && rep != 1
	freq, pres := float32(s.p.FrequencyPenalty), float32(s.p.PresencePenalty)
	useOut := freq != 0 || pres != 0
	if !useRep && !useOut {
		return
	}
	for _, id := range s.ids {
		if int(id) >= len(l) {
			continue
		}
		if useRep && s.seen[id] > 0 {
			if v := l[id]; v > 0 {
				l[id] = v / rep
			} else {
				l[id] = v * rep
			}
		}
		if useOut {
			if c := s.out[id]; c > 0 {
				l[id] -= float32(c)*freq + pres
			}
		}
	}
}

// negligible is the logit gap below which a token's exp is not computed:
// e^-40 ≈ 4e-18, so even 10^6 such tokens move the total by less than the
// float32 rounding of the logits themselves.
const negligible = 40

// softmax fills prob[:len(cand)] with exp(logit - max) for the candidates
// and returns their sum and the max; callers normalize by the sum lazily.
func (s *Sampler) softmax(cand []int32) (float64, float32) {
	l := s.logits
	m := float32(math.Inf(-1))
	for _, id := range cand {
		m = max(m, l[id])
	}
	if math.IsInf(float64(m), -1) {
		return 0, m
	}
	var sum float64
	prob := s.prob[:len(cand)]
	for j, id := range cand {
		d := l[id] - m
		if d < -negligible {
			prob[j] = 0
			continue
		}
		p := math.Exp(float64(d))
		prob[j] = p
		sum += p
	}
	return sum, m
}

// topK leaves the k best tokens (by better) in cand[:k], in heap order, using
// a k-entry min-heap over one pass of the logits: O(V) for the small k that
// sampling uses, since most tokens lose the first comparison.
func (s *Sampler) topK(k int) {
	l, h := s.logits, s.cand[:k]
	for i := range h {
		h[i] = int32(i)
	}
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, l, i)
	}
	for id := int32(k); int(id) < len(l); id++ {
		if better(l, id, h[0]) {
			h[0] = id
			siftDown(h, l, 0)
		}
	}
}

// siftDown restores the heap whose root is the worst entry (by better).
func siftDown(h []int32, l []float32, i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && better(l, h[c], h[c+1]) {
			c++
		}
		if !better(l, h[i], h[c]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// topPBuckets sorts candidates by logit gap to the best, in steps of
// 1/topPScale nats, so top-p only has to order the tokens of one bucket.
const (
	topPBuckets = 128
	topPScale   = 4
)

// topP keeps the shortest run of most likely candidates whose mass reaches
// tp of the total: a token stays when the mass strictly before it (in
// decreasing order) is below tp, which is the transformers rule. Instead of
// sorting the vocabulary, candidates are bucketed by logit gap: every
// bucket before the one where the mass crosses tp is kept whole, and only
// the crossing bucket is sorted. Survivors keep a deterministic order.
func (s *Sampler) topP(n int, total, tp float64, mx float32) (int, float64) {
	cand, prob, l := s.cand[:n], s.prob[:n], s.logits
	bucket := func(id int32) int {
		g := float64(mx-l[id]) * topPScale
		if g >= topPBuckets-1 || g != g {
			return topPBuckets - 1
		}
		return int(g)
	}
	var mass [topPBuckets]float64
	for j, id := range cand {
		mass[bucket(id)] += prob[j]
	}
	target := tp * total
	cross, acc := topPBuckets-1, 0.0
	for b := range mass {
		if acc+mass[b] >= target {
			cross = b
			break
		}
		acc += mass[b]
	}
	// Keep buckets before the crossing one; gather the crossing one aside.
	k, edge := 0, s.edge[:0]
	var kept float64
	for j, id := range cand {
		switch b := bucket(id); {
		case b < cross:
			cand[k], prob[k] = id, prob[j]
			kept += prob[j]
			k++
		case b == cross:
			edge = append(edge, id)
		}
	}
	s.edge = edge
	slices.SortFunc(edge, s.cmp)
	for _, id := range edge {
		if acc >= target {
			break
		}
		p := math.Exp(float64(l[id] - mx))
		cand[k], prob[k] = id, p
		acc += p
		kept += p
		k++
	}
	return k, kept
}

// minP drops candidates below mp × the largest probability, keeping order.
func (s *Sampler) minP(n int, mp float64) (int, float64) {
	prob := s.prob[:n]
	pmax := 0.0
	for _, p := range prob {
		pmax = max(pmax, p)
	}
	cut := mp * pmax
	k, total := 0, 0.0
	for j := range n {
		if prob[j] >= cut {
			s.cand[k], prob[k] = s.cand[j], prob[j]
			total += prob[j]
			k++
		}
	}
	return k, total
}

// better orders token ids by decreasing working logit, ties by increasing
// id: a strict total order, so selection and sorting are deterministic.
func better(l []float32, a, b int32) bool {
	return l[a] > l[b] || (l[a] == l[b] && a < b)
}

func (s *Sampler) cmp(a, b int32) int {
	switch {
	case better(s.logits, a, b):
		return -1
	case better(s.logits, b, a):
		return 1
	}
	return 0
}

func argmax(l []float32) int {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return best
}
