package llm

import (
	"errors"
	"strings"
	"sync/atomic"
)

// The fakes below stand in for model/qwen2, the tokenizer and the chat
// template: pure Go, tiny, and exact, so engine tests know every token.

// Fake vocabulary: ids 0..255 are bytes, then the special tokens.
const (
	fkEOS = 256 + iota
	fkBOS
	fkThink
	fkEndThink
	fkAsst // ends every chat prompt: the fake model answers after it
	fkUser
	fkVocab
)

var fkSpecial = map[int]string{
	fkEOS: "<eos>", fkBOS: "<bos>", fkThink: "<think>", fkEndThink: "</think>",
	fkAsst: "<asst>", fkUser: "<user>",
}

type fakeTok struct{ vocab int }

func (t fakeTok) VocabSize() int { return max(t.vocab, fkVocab) }
func (fakeTok) EOS() int         { return fkEOS }
func (fakeTok) TokenBytes(id int) []byte {
	if id < 256 {
		return []byte{byte(id)}
	}
	return []byte(fkSpecial[id])
}

// Encode maps special-token text to its id and every other byte to itself.
func (fakeTok) Encode(text string, addSpecial bool) []int {
	var ids []int
	if addSpecial {
		ids = append(ids, fkBOS)
	}
next:
	for len(text) > 0 {
		for id := fkEOS; id < fkVocab; id++ {
			if s := fkSpecial[id]; strings.HasPrefix(text, s) {
				ids = append(ids, id)
				text = text[len(s):]
				continue next
			}
		}
		ids = append(ids, int(text[0]))
		text = text[1:]
	}
	return ids
}

// tokens encodes s without BOS, for scripting the fake model.
func tokens(s string) []int { return fakeTok{}.Encode(s, false) }

// fakeTemplate is R1-shaped: BOS, turns, and a generation prompt that
// opens the reasoning block. History keeps only the answer.
type fakeTemplate struct{}

func (fakeTemplate) Render(msgs []Message, gen bool) (string, error) {
	var b strings.Builder
	b.WriteString("<bos>")
	for _, m := range msgs {
		switch m.Role {
		case "user":
			b.WriteString("<user>" + m.Content)
		case "assistant":
			b.WriteString("<asst>" + m.Content + "<eos>")
		case "system":
			b.WriteString(m.Content)
		default:
			return "", errors.New("unknown role " + m.Role)
		}
	}
	if gen {
		b.WriteString("<asst><think>\n")
	}
	return b.String(), nil
}

// fakeModel produces logits that are a function of the whole context.
// Scripted mode: after the k-th <asst> token (k counted from 1) it writes
// replies[k-1] then EOS, as one-hot logits; with no <asst> it writes EOS.
// Random mode (replies nil): a fixed pseudo-random bigram table, for
// sampling tests.
type fakeModel struct {
	replies [][]int
	vocab   int   // logits length; defaults to fkVocab
	maxCtx  int   // MaxContext; 0 means unknown
	padID   int   // when > 0: this id (past the tokenizer) gets the highest logit
	ran     int64 // tokens run through Forward, over all states
	forward func(st *fakeState, tokens []int) error
}

func (m *fakeModel) VocabSize() int {
	if m.vocab > 0 {
		return m.vocab
	}
	return fkVocab
}
func (m *fakeModel) MaxContext() int { return m.maxCtx }
func (m *fakeModel) NewState(maxSeq int) State {
	return &fakeState{m: m, maxSeq: maxSeq, logits: make([]float32, m.VocabSize())}
}

type fakeState struct {
	m      *fakeModel
	maxSeq int
	seq    []int
	logits []float32
}

func (s *fakeState) Pos() int { return len(s.seq) }
func (s *fakeState) Truncate(pos int) {
	s.seq = s.seq[:min(max(pos, 0), len(s.seq))]
}

func (s *fakeState) Forward(toks []int) ([]float32, error) {
	if s.m.forward != nil {
		if err := s.m.forward(s, toks); err != nil {
			return nil, err
		}
	}
	if len(s.seq)+len(toks) > s.maxSeq {
		return nil, errors.New("fake: context exceeded")
	}
	atomic.AddInt64(&s.m.ran, int64(len(toks)))
	s.seq = append(s.seq, toks...)
	for i := range s.logits {
		s.logits[i] = 0
	}
	if s.m.replies == nil {
		last := uint64(s.seq[len(s.seq)-1])
		for j := range s.logits {
			h := (last*0x9e3779b97f4a7c15 + uint64(j)*0xbf58476d1ce4e5b9) >> 40
			s.logits[j] = float32(h%1000) / 250 // in [0, 4)
		}
		return s.logits, nil
	}
	next := fkEOS
	turn, after := 0, 0
	for _, id := range s.seq {
		if id == fkAsst {
			turn, after = turn+1, 0
		} else {
			after++
		}
	}
	if turn > 0 && turn <= len(s.m.replies) {
		// Skip over what the prompt itself already wrote after <asst>
		// (the template's "<think>\n", or a prefilled empty block).
		r := s.m.replies[turn-1]
		if after < len(r) {
			next = r[after]
		}
	}
	s.logits[next] = 100
	if s.m.padID > 0 {
		s.logits[s.m.padID] = 200
	}
	return s.logits, nil
}
