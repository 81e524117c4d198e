package bert

import (
	"fmt"
	"math"

	"ragtune/tensor"
)

// batchTokens bounds the tokens encoded in one pass, so activation
// buffers stay small (8192 tokens × 1536 intermediate floats = 48 MiB for
// bge-small) however many texts a caller hands in.
const batchTokens = 8192

// Embed returns one L2-normalized vector per text, in order. Texts longer
// than MaxTokens are truncated (the [SEP] is kept). An empty text encodes
// as [CLS] [SEP], as in transformers.
func (m *Model) Embed(texts []string) ([][]float32, error) {
	ids := make([][]int, len(texts))
	for i, t := range texts {
		ids[i] = m.Tokenize(t)
	}
	return m.EmbedIDs(ids)
}

// Tokenize returns the ids Embed feeds the encoder for text: [CLS] text
// [SEP], truncated to MaxTokens.
func (m *Model) Tokenize(text string) []int {
	var ids []int
	if m.Uni != nil {
		ids = m.Uni.Encode(text, true)
	} else {
		ids = m.Tok.Encode(text, true)
	}
	if n := m.MaxTokens(); len(ids) > n {
		ids = append(ids[:n-1:n-1], ids[len(ids)-1])
	}
	return ids
}

// EmbedIDs encodes token sequences (each already wrapped in [CLS] …
// [SEP]). Sequences are packed into passes of up to batchTokens tokens;
// projections run over all of a pass's tokens at once and attention is
// restricted to each sequence, which is what padding plus an attention
// mask computes, without the padded rows.
func (m *Model) EmbedIDs(ids [][]int) ([][]float32, error) {
	out := make([][]float32, len(ids))
	for i, seq := range ids {
		if err := m.checkSeq(i, seq); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
	}
	var st state
	for start := 0; start < len(ids); {
		end, T := start, 0
		for end < len(ids) && (end == start || T+len(ids[end]) <= batchTokens) {
			T += len(ids[end])
			end++
		}
		offs := m.forward(&st, ids[start:end], nil)
		C := m.Config.HiddenSize
		for s := range ids[start:end] {
			v := make([]float32, C)
			switch m.Pooling {
			case PoolMean:
				n := offs[s+1] - offs[s]
				for t := offs[s]; t < offs[s+1]; t++ {
					tensor.Axpy(v, st.x[t*C:(t+1)*C], 1/float32(n))
				}
			default:
				copy(v, st.x[offs[s]*C:(offs[s]+1)*C])
			}
			normalize(v)
			out[start+s] = v
		}
		start = end
	}
	return out, nil
}

func (m *Model) checkSeq(i int, seq []int) error {
	if len(seq) == 0 {
		return fmt.Errorf("sequence %d is empty (it needs at least [CLS] and [SEP])", i)
	}
	if len(seq) > m.MaxTokens() {
		return fmt.Errorf("sequence %d has %d tokens, the model takes at most %d", i, len(seq), m.MaxTokens())
	}
	for _, id := range seq {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("sequence %d holds token id %d outside the vocabulary (0..%d)", i, id, m.Config.VocabSize-1)
		}
	}
	return nil
}

// state is the activation buffers of one pass, grown as needed and reused
// across passes.
type state struct {
	x, q, k, v, att, h []float32 // (T, C)
	ff                 []float32 // (T, I)
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// forward encodes a pack of sequences, leaving the last layer's hidden
// states in st.x; sequence s holds rows offs[s] to offs[s+1]. types, when
// not nil, gives each token's token_type id (a sentence pair's second
// segment is type 1 in BERT); nil means type 0 throughout.
func (m *Model) forward(st *state, seqs [][]int, types [][]int) (offs []int) {
	cfg := &m.Config
	C, I, NH := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads
	HD := C / NH
	eps := float32(cfg.LayerNormEps)
	offs = make([]int, len(seqs)+1)
	for i, s := range seqs {
		offs[i+1] = offs[i] + len(s)
	}
	T := offs[len(seqs)]
	st.x, st.q, st.k, st.v = grow(st.x, T*C), grow(st.q, T*C), grow(st.k, T*C), grow(st.v, T*C)
	st.att, st.h, st.ff = grow(st.att, T*C), grow(st.h, T*C), grow(st.ff, T*I)
	x, h := st.x, st.h

	// x = LayerNorm(word + position + token type)
	for s, seq := range seqs {
		for p, id := range seq {
			row := x[(offs[s]+p)*C : (offs[s]+p+1)*C]
			ty := 0
			if types != nil {
				ty = types[s][p]
			}
			pp := p + m.posOffset
			w, pe, tt := m.wte[id*C:(id+1)*C], m.wpe[pp*C:(pp+1)*C], m.wtt[ty*C:(ty+1)*C]
			for c := range row {
				row[c] = w[c] + pe[c] + tt[c]
			}
		}
	}
	layerNorm(x, x, m.lnw, m.lnb, T, C, eps)

	scale := float32(1 / math.Sqrt(float64(HD)))
	for l := range m.lays {
		L := &m.lays[l]
		tensor.MatMul(st.q, x, L.qw, L.qb, T, C, C)
		tensor.MatMul(st.k, x, L.kw, L.kb, T, C, C)
		tensor.MatMul(st.v, x, L.vw, L.vb, T, C, C)
		// Each (sequence, head) pair attends within its sequence only.
		tensor.ParallelFor(len(seqs)*NH, func(lo, hi int) {
			var scores []float32
			for task := lo; task < hi; task++ {
				s, hd := task/NH, task%NH
				o0, n := offs[s], offs[s+1]-offs[s]
				scores = grow(scores, n)
				for i := 0; i < n; i++ {
					qi := st.q[(o0+i)*C+hd*HD : (o0+i)*C+hd*HD+HD]
					for j := 0; j < n; j++ {
						scores[j] = tensor.Dot(qi, st.k[(o0+j)*C+hd*HD:(o0+j)*C+hd*HD+HD]) * scale
					}
					tensor.Softmax(scores)
					oi := st.att[(o0+i)*C+hd*HD : (o0+i)*C+hd*HD+HD]
					clear(oi)
					for j := 0; j < n; j++ {
						tensor.Axpy(oi, st.v[(o0+j)*C+hd*HD:(o0+j)*C+hd*HD+HD], scores[j])
					}
				}
			}
		})
		// x = LayerNorm(x + attention.output.dense(att))
		tensor.MatMul(h, st.att, L.ow, L.ob, T, C, C)
		for i := range h {
			h[i] += x[i]
		}
		layerNorm(x, h, L.ln1w, L.ln1b, T, C, eps)
		// x = LayerNorm(x + output.dense(gelu(intermediate.dense(x))))
		tensor.MatMul(st.ff, x, L.upw, L.upb, T, C, I)
		tensor.ParallelFor(T, func(lo, hi int) {
			for i := lo * I; i < hi*I; i++ {
				st.ff[i] = gelu(st.ff[i])
			}
		})
		tensor.MatMul(h, st.ff, L.dnw, L.dnb, T, I, C)
		for i := range h {
			h[i] += x[i]
		}
		layerNorm(x, h, L.ln2w, L.ln2b, T, C, eps)
	}

	return offs
}

// layerNorm sets out = (inp - mean) / sqrt(var + eps) * w + b per row of
// (T, C); out may alias inp. Sums run in float64, as ggml's do.
func layerNorm(out, inp, w, b []float32, T, C int, eps float32) {
	tensor.ParallelFor(T, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			x, o := inp[t*C:(t+1)*C], out[t*C:(t+1)*C]
			var sum float64
			for _, v := range x {
				sum += float64(v)
			}
			mean := float32(sum / float64(C))
			var sq float64
			for _, v := range x {
				d := float64(v - mean)
				sq += d * d
			}
			rstd := float32(1 / math.Sqrt(sq/float64(C)+float64(eps)))
			for c := range o {
				o[c] = (x[c]-mean)*rstd*w[c] + b[c]
			}
		}
	})
}

// gelu is the exact (erf) GELU of HF's "gelu" activation:
// x/2 · (1 + erf(x/√2)).
func gelu(x float32) float32 {
	return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
}

func normalize(v []float32) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= inv
	}
}
