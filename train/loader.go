package train

import (
	"math/rand/v2"

	"ragtune/train/data"
)

// Loader walks the training samples in a seeded order, one permutation per
// epoch, and cuts steps of micro-batches. Its whole state is (Epoch, Pos),
// so a checkpoint that saves both resumes on the same sample.
type Loader struct {
	Samples []data.Sample
	Seed    uint64
	B       int // sequences per micro-batch
	Accum   int // micro-batches per step
	Pad     int32
	Epoch   int
	Pos     int // index into this epoch's order
	// LastTokens is how many (unpadded) tokens the last step read.
	LastTokens int
	order      []int
	ordered    int // epoch the order was built for, -1 when none
}

// NewLoader starts at epoch 0, position 0.
func NewLoader(samples []data.Sample, B, accum int, pad int32, seed uint64) *Loader {
	return &Loader{Samples: samples, Seed: seed, B: max(1, B), Accum: max(1, accum), Pad: pad, ordered: -1}
}

// StepsPerEpoch is how many optimizer steps one pass over the data takes.
func (l *Loader) StepsPerEpoch() int {
	per := l.B * l.Accum
	return (len(l.Samples) + per - 1) / per
}

func (l *Loader) ensureOrder() {
	if l.ordered == l.Epoch {
		return
	}
	l.order = make([]int, len(l.Samples))
	for i := range l.order {
		l.order[i] = i
	}
	r := rand.New(rand.NewPCG(l.Seed, uint64(l.Epoch)+1))
	r.Shuffle(len(l.order), func(i, j int) { l.order[i], l.order[j] = l.order[j], l.order[i] })
	l.ordered = l.Epoch
}

// NextStep returns the micro-batches of the next step. A step never spans
// two epochs, so the last one of an epoch may be smaller.
func (l *Loader) NextStep() []*Batch {
	l.ensureOrder()
	l.LastTokens = 0
	var micro []*Batch
	for k := 0; k < l.Accum && l.Pos < len(l.order); k++ {
		end := min(l.Pos+l.B, len(l.order))
		var ss []data.Sample
		for _, i := range l.order[l.Pos:end] {
			ss = append(ss, l.Samples[i])
			l.LastTokens += len(l.Samples[i].Tokens)
		}
		micro = append(micro, MakeBatch(ss, l.Pad))
		l.Pos = end
	}
	if l.Pos >= len(l.order) {
		l.Epoch++
		l.Pos = 0
	}
	return micro
}

// MakeBatch right-pads samples to the longest one (pad tokens, masked
// labels) and shifts the labels into targets.
func MakeBatch(ss []data.Sample, pad int32) *Batch {
	T := 0
	for _, s := range ss {
		T = max(T, len(s.Tokens))
	}
	B := len(ss)
	tokens, labels := make([]int32, B*T), make([]int32, B*T)
	for b, s := range ss {
		for t := 0; t < T; t++ {
			if t < len(s.Tokens) {
				tokens[b*T+t], labels[b*T+t] = s.Tokens[t], s.Labels[t]
			} else {
				tokens[b*T+t], labels[b*T+t] = pad, -100
			}
		}
	}
	return &Batch{B: B, T: T, Tokens: tokens, Targets: TargetsFromLabels(labels, B, T)}
}
