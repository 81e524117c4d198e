package bert

import (
	"errors"
	"fmt"
	"math"
)

// head is a sequence-classification head over the first token's hidden
// state: logits = out · tanh(dense · h[CLS] + db) + ob. BERT's pooler +
// classifier and RoBERTa's classification head (dense, tanh, out_proj)
// compute exactly this; only the tensor names differ.
type head struct {
	dw, db []float32 // (C, C), (C)
	ow, ob []float32 // (L, C), (L)
	labels int
}

// headNames are the tensor names of each layout's head: dense weight and
// bias, output weight and bias.
var headNames = []struct {
	prefix                   string // encoder tensor prefix of the layout
	dense, denseB, out, outB string
}{
	{"bert.", "bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"},
	{"roberta.", "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"},
}

// loadHead reads a classification head if the checkpoint has one: nil,
// nil when it has neither layout's output tensor (a plain encoder).
func loadHead(C int, get getter) (*head, error) {
	for _, n := range headNames {
		ow, err := get(n.out)
		if err != nil {
			continue
		}
		if len(ow.Shape) != 2 || ow.Shape[1] != C || ow.Shape[0] < 1 {
			return nil, fmt.Errorf("classifier tensor %s has shape %v, want (labels, %d)", n.out, ow.Shape, C)
		}
		L := ow.Shape[0]
		rd := &reader{get: get}
		read := rd.read
		h := &head{
			dw: read(n.dense, C, C), db: read(n.denseB, C),
			ow: read(n.out, L, C), ob: read(n.outB, L),
			labels: L,
		}
		if err := errors.Join(rd.errs...); err != nil {
			return nil, fmt.Errorf("load classification head: %w", err)
		}
		return h, nil
	}
	return nil, nil
}

// NumLabels is the number of logits the classification head gives, 0 for
// a plain encoder. Rerankers (bge-reranker, ms-marco cross-encoders) have
// one: the relevance logit.
func (m *Model) NumLabels() int {
	if m.head == nil {
		return 0
	}
	return m.head.labels
}

// EncodePair returns the ids and token types of a sentence pair as
// transformers encodes it: for BERT [CLS] a [SEP] b [SEP], types 0 up to
// and including the first [SEP] and 1 after; for XLM-RoBERTa <s> a </s>
// </s> b </s>, all type 0. Pairs longer than MaxTokens are cut
// longest-first (one token at a time from whichever text is longer, the
// second on ties), transformers' default truncation.
func (m *Model) EncodePair(a, b string) (ids, types []int) {
	var ta, tb []int
	var head, mid, tail []int
	if m.Uni != nil {
		ta, tb = m.Uni.Encode(a, false), m.Uni.Encode(b, false)
		head, mid, tail = []int{m.Uni.BOS()}, []int{m.Uni.EOS(), m.Uni.EOS()}, []int{m.Uni.EOS()}
	} else {
		ta, tb = m.Tok.Encode(a, false), m.Tok.Encode(b, false)
		head, mid, tail = []int{m.Tok.CLS()}, []int{m.Tok.SEP()}, []int{m.Tok.SEP()}
	}
	for budget := m.MaxTokens() - len(head) - len(mid) - len(tail); len(ta)+len(tb) > budget && len(ta)+len(tb) > 0; {
		if len(ta) > len(tb) {
			ta = ta[:len(ta)-1]
		} else {
			tb = tb[:len(tb)-1]
		}
	}
	ids = make([]int, 0, len(ta)+len(tb)+4)
	ids = append(append(append(ids, head...), ta...), mid[:1]...)
	second := 1
	if m.Uni != nil {
		second = 0 // RoBERTa has one token type
	}
	types = make([]int, len(ids), cap(ids))
	ids = append(append(append(ids, mid[1:]...), tb...), tail...)
	for len(types) < len(ids) {
		types = append(types, second)
	}
	return ids, types
}

// Classify returns the head's logits for each (ids, types) sequence, in
// order. Sequences are packed into passes as in EmbedIDs.
func (m *Model) Classify(ids, types [][]int) ([][]float32, error) {
	if m.head == nil {
		return nil, errors.New("classify: this model has no sequence-classification head (load a cross-encoder such as a bge-reranker checkpoint)")
	}
	if len(types) != len(ids) {
		return nil, fmt.Errorf("classify: %d token-type rows for %d sequences", len(types), len(ids))
	}
	for i, seq := range ids {
		if err := m.checkSeq(i, seq); err != nil {
			return nil, fmt.Errorf("classify: %w", err)
		}
		if len(types[i]) != len(seq) {
			return nil, fmt.Errorf("classify: sequence %d has %d tokens but %d token types", i, len(seq), len(types[i]))
		}
		for _, t := range types[i] {
			if t < 0 || t >= m.Config.TypeVocabSize {
				return nil, fmt.Errorf("classify: sequence %d has token type %d, the model has %d", i, t, m.Config.TypeVocabSize)
			}
		}
	}
	C, h := m.Config.HiddenSize, m.head
	out := make([][]float32, len(ids))
	pooled := make([]float32, C)
	var st state
	for start := 0; start < len(ids); {
		end, T := start, 0
		for end < len(ids) && (end == start || T+len(ids[end]) <= batchTokens) {
			T += len(ids[end])
			end++
		}
		offs := m.forward(&st, ids[start:end], types[start:end])
		for s := range ids[start:end] {
			cls := st.x[offs[s]*C : (offs[s]+1)*C]
			for o := range C {
				acc := float64(h.db[o])
				for i, w := range h.dw[o*C : (o+1)*C] {
					acc += float64(w) * float64(cls[i])
				}
				pooled[o] = float32(math.Tanh(acc))
			}
			logits := make([]float32, h.labels)
			for l := range logits {
				acc := float64(h.ob[l])
				for i, w := range h.ow[l*C : (l+1)*C] {
					acc += float64(w) * float64(pooled[i])
				}
				logits[l] = float32(acc)
			}
			out[start+s] = logits
		}
		start = end
	}
	return out, nil
}

// ScorePairs scores (query, passage) pairs with a one-label cross-encoder:
// the relevance logit of each pair, higher meaning more relevant. For a
// two-label head the score is logit₁ − logit₀, which orders pairs as the
// softmax probability of label 1 does.
func (m *Model) ScorePairs(query string, passages []string) ([]float32, error) {
	ids := make([][]int, len(passages))
	types := make([][]int, len(passages))
	for i, p := range passages {
		ids[i], types[i] = m.EncodePair(query, p)
	}
	logits, err := m.Classify(ids, types)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(logits))
	for i, l := range logits {
		switch len(l) {
		case 1:
			out[i] = l[0]
		case 2:
			out[i] = l[1] - l[0]
		default:
			return nil, fmt.Errorf("score pairs: the classification head has %d labels; a reranker has 1 (or 2: irrelevant, relevant)", len(l))
		}
	}
	return out, nil
}
