package tokenizer

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/text/unicode/norm"
)

// R1SpecialTokens returns R1's seven added tokens (EOS, <｜User｜>,
// <｜Assistant｜>, BOS, <|EOT|>, <think>, </think>) with their flags and
// no ids, for building small R1-compatible vocabularies.
func R1SpecialTokens() []AddedToken {
	return append([]AddedToken(nil), r1Added...)
}

// ByteLevelR1 returns the smallest tokenizer that speaks R1's format: the
// 256 single-byte tokens (id = byte value) and R1's seven added tokens
// at ids 256–262 (256 EOS, 257 <｜User｜>, 258 <｜Assistant｜>, 259 BOS,
// 260 <|EOT|>, 261 <think>, 262 </think>), no merges, the Qwen2
// pre-tokenizer and NFC. Every text encodes (one token per byte), which
// makes it the default for tiny test models.
func ByteLevelR1() *BPE {
	b, err := buildByteVocab(nil, R1SpecialTokens())
	if err != nil {
		panic(err) // fixed input; cannot fail
	}
	return b
}

// buildByteVocab makes a BPE whose ids are: bytes 0–255, then the added
// tokens, then one token per merge result.
func buildByteVocab(merges [][2]string, specials []AddedToken) (*BPE, error) {
	return buildByteVocabAs(r1Qwen, merges, specials)
}

// byteStyle is how a byte-level vocabulary pre-tokenizes and which of its
// added tokens are BOS, EOS and padding.
type byteStyle struct {
	pattern       string
	nfc, ignore   bool // NFC normalizer; HF ignore_merges
	pre           string
	bos, eos, pad string // contents; "" none
}

var r1Qwen = byteStyle{pattern: Qwen2Pattern, nfc: true, pre: "deepseek-r1-qwen", bos: r1BOS, eos: r1EOS, pad: r1EOS}

// buildByteVocabAs is buildByteVocab for a given style.
func buildByteVocabAs(st byteStyle, merges [][2]string, specials []AddedToken) (*BPE, error) {
	sp := bpeSpec{vocab: map[string]int{}, nfc: st.nfc, pattern: st.pattern, bos: -1, eos: -1, pad: -1, pre: st.pre, ignoreMerges: st.ignore}
	for b := 0; b < 256; b++ {
		sp.vocab[byteStr[b]] = b
	}
	seen := map[string]bool{}
	for i, a := range specials {
		if a.Content == "" || seen[a.Content] {
			return nil, fmt.Errorf("special token %d (%q) is empty or repeated", i, a.Content)
		}
		seen[a.Content] = true
		a.ID = 256 + i
		sp.added = append(sp.added, a)
		if a.Content == st.bos {
			sp.bos, sp.addBOS = a.ID, true
		}
		if a.Content == st.eos {
			sp.eos = a.ID
		}
		if a.Content == st.pad {
			sp.pad = a.ID
		}
	}
	next := 256 + len(specials)
	for _, m := range merges {
		if _, ok := sp.vocab[m[0]+m[1]]; !ok {
			sp.vocab[m[0]+m[1]] = next
			next++
		}
	}
	sp.merges = merges
	return newBPE(sp)
}

// TrainBPE learns byte-level BPE merges from corpus until the vocabulary
// (256 bytes + specials + merged tokens) reaches vocabSize or no pair
// occurs twice. Words are the Qwen2 pre-tokens of the NFC text, so the
// result splits text like the R1 tokenizer does. Each step merges the
// most frequent adjacent pair; ties go to the pair whose (left, right)
// byte-level strings sort first, so training is deterministic. The specials get
// ids 256 onward (R1SpecialTokens gives ByteLevelR1's layout).
func TrainBPE(corpus []string, vocabSize int, specials ...AddedToken) (*BPE, error) {
	base := 256 + len(specials)
	if vocabSize < base {
		return nil, fmt.Errorf("train BPE: vocabulary size %d is smaller than 256 bytes + %d specials", vocabSize, len(specials))
	}
	if len(corpus) == 0 {
		return nil, errors.New("train BPE: empty corpus")
	}
	// Count words; special tokens are cut out so they are never merged into.
	probe, err := buildByteVocab(nil, specials)
	if err != nil {
		return nil, fmt.Errorf("train BPE: %w", err)
	}
	counts := map[string]int{}
	for _, doc := range corpus {
		for _, seg := range probe.rawAdded.split(doc, nil, nil) {
			if seg.tok == nil {
				splitQwen2(norm.NFC.String(seg.text), func(w string) { counts[w]++ })
			}
		}
	}
	tr := newTrainer(counts)
	var merges [][2]string
	for vocab := base; vocab < vocabSize; {
		p, n := tr.best()
		if n < 2 {
			break
		}
		a, b := tr.str[p.a], tr.str[p.b]
		merges = append(merges, [2]string{a, b})
		if tr.apply(p) {
			vocab++
		}
	}
	return buildByteVocab(merges, specials)
}

type pair struct{ a, b int32 }

// trainer holds the corpus as distinct words (symbol sequences with a
// count) and, per adjacent pair, its total count and the words holding
// it, so each merge only revisits the words it changes.
type trainer struct {
	str   []string // symbol id → byte-level string
	ids   map[string]int32
	words [][]int32
	freq  []int
	count map[pair]int
	where map[pair]map[int32]struct{}
	pq    pairHeap
}

func newTrainer(counts map[string]int) *trainer {
	tr := &trainer{ids: map[string]int32{}, count: map[pair]int{}, where: map[pair]map[int32]struct{}{}}
	for b := 0; b < 256; b++ {
		tr.str = append(tr.str, byteStr[b])
		tr.ids[byteStr[b]] = int32(b)
	}
	// Fixed word order keeps training deterministic regardless of map order.
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sortStrings(words)
	for wi, w := range words {
		syms := make([]int32, len(w))
		for i := 0; i < len(w); i++ {
			syms[i] = int32(w[i])
		}
		tr.words = append(tr.words, syms)
		tr.freq = append(tr.freq, counts[w])
		for i := 0; i+1 < len(syms); i++ {
			tr.addPair(pair{syms[i], syms[i+1]}, counts[w], int32(wi))
		}
	}
	for p, n := range tr.count {
		heap.Push(&tr.pq, pairCount{p, n, tr})
	}
	return tr
}

func (tr *trainer) addPair(p pair, n int, wi int32) {
	tr.count[p] += n
	s := tr.where[p]
	if s == nil {
		s = map[int32]struct{}{}
		tr.where[p] = s
	}
	s[wi] = struct{}{}
}

// best returns the most frequent pair, skipping heap entries whose count
// changed since they were pushed (the current count is pushed anew).
func (tr *trainer) best() (pair, int) {
	for tr.pq.Len() > 0 {
		top := heap.Pop(&tr.pq).(pairCount)
		if cur := tr.count[top.p]; cur == top.n {
			return top.p, top.n
		}
	}
	return pair{}, 0
}

// apply merges p in every word holding it; it reports whether the merged
// string is a new token (an existing one can be reached another way).
func (tr *trainer) apply(p pair) bool {
	merged := tr.str[p.a] + tr.str[p.b]
	id, exists := tr.ids[merged]
	if !exists {
		id = int32(len(tr.str))
		tr.str = append(tr.str, merged)
		tr.ids[merged] = id
	}
	changed := map[pair]bool{}
	wis := make([]int32, 0, len(tr.where[p]))
	for wi := range tr.where[p] {
		wis = append(wis, wi)
	}
	for _, wi := range wis {
		w, n := tr.words[wi], tr.freq[wi]
		for i := 0; i+1 < len(w); i++ {
			tr.count[pair{w[i], w[i+1]}] -= n
			changed[pair{w[i], w[i+1]}] = true
		}
		out := w[:0:0]
		for i := 0; i < len(w); i++ {
			if i+1 < len(w) && w[i] == p.a && w[i+1] == p.b {
				out = append(out, id)
				i++
			} else {
				out = append(out, w[i])
			}
		}
		tr.words[wi] = out
		for i := 0; i+1 < len(out); i++ {
			tr.addPair(pair{out[i], out[i+1]}, n, wi)
			changed[pair{out[i], out[i+1]}] = true
		}
	}
	delete(tr.where, p)
	delete(tr.count, p)
	for q := range changed {
		if n := tr.count[q]; n > 0 {
			heap.Push(&tr.pq, pairCount{q, n, tr})
		}
	}
	return !exists
}

type pairCount struct {
	p  pair
	n  int
	tr *trainer
}

// pairHeap is a max-heap on count; ties go to the lexicographically
// smaller (left, right) strings.
type pairHeap []pairCount

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].n != h[j].n {
		return h[i].n > h[j].n
	}
	s := h[i].tr.str
	ai, aj := s[h[i].p.a], s[h[j].p.a]
	if ai != aj {
		return ai < aj
	}
	return s[h[i].p.b] < s[h[j].p.b]
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairCount)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func sortStrings(s []string) { slices.Sort(s) }
