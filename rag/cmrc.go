package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"unicode/utf8"

	"ragtune/index"
)

// RetrievalSet is a question → gold-chunk benchmark: every question has
// exactly one relevant chunk, and every question is searched against all
// chunks.
type RetrievalSet struct {
	Chunks    []string
	Questions []RetrievalQuestion
	Skipped   int // questions without a usable first answer

	ChunkDoc []int    // document (context) of each chunk
	Docs     []string // document texts
	Titles   []string // document titles ("" when the file has none)
}

// RetrievalQuestion is one query with the index of its gold chunk.
type RetrievalQuestion struct {
	ID   string
	Text string
	Gold int
}

// squadFile is the SQuAD-format layout CMRC 2018 uses.
type squadFile struct {
	Data []struct {
		Title      string `json:"title"`
		Paragraphs []struct {
			ID      string `json:"id"`
			Context string `json:"context"`
			QAs     []struct {
				ID       string `json:"id"`
				Question string `json:"question"`
				Answers  []struct {
					Text        string `json:"text"`
					AnswerStart *int   `json:"answer_start"`
				} `json:"answers"`
			} `json:"qas"`
		} `json:"paragraphs"`
	} `json:"data"`
}

// LoadCMRC builds the retrieval benchmark of ANCHORS.md from a CMRC 2018
// (SQuAD-format) file: each context is cut into sentences after every
// 。！？!?, consecutive sentences are merged until a chunk holds at least
// minChars code points, and a question's gold chunk is the one holding its
// first answer's answer_start (a code-point offset). Questions without an
// answer or whose offset lies outside the context are skipped.
func LoadCMRC(path string, minChars int) (*RetrievalSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CMRC file: %w", err)
	}
	var f squadFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse CMRC file %s (want SQuAD-format JSON): %w", path, err)
	}
	set := &RetrievalSet{}
	for _, art := range f.Data {
		for _, p := range art.Paragraphs {
			base := len(set.Chunks)
			spans := cmrcChunks(p.Context, minChars)
			for _, s := range spans {
				set.Chunks = append(set.Chunks, s.text)
				set.ChunkDoc = append(set.ChunkDoc, len(set.Docs))
			}
			set.Docs = append(set.Docs, p.Context)
			set.Titles = append(set.Titles, art.Title)
			for _, qa := range p.QAs {
				gold := -1
				if len(qa.Answers) > 0 && qa.Answers[0].AnswerStart != nil {
					start := *qa.Answers[0].AnswerStart
					for i, s := range spans {
						if start >= s.charStart && start < s.charEnd {
							gold = base + i
							break
						}
					}
				}
				if gold < 0 {
					set.Skipped++
					continue
				}
				set.Questions = append(set.Questions, RetrievalQuestion{ID: qa.ID, Text: qa.Question, Gold: gold})
			}
		}
	}
	return set, nil
}

type cmrcChunk struct {
	text               string
	charStart, charEnd int
}

// cmrcChunks implements the ANCHORS.md cut exactly; it is deliberately
// separate from Chunker, whose boundaries and size limit differ.
func cmrcChunks(context string, minChars int) []cmrcChunk {
	var out []cmrcChunk
	startByte, startChar, chars := 0, 0, 0
	pos := 0
	for i, r := range context {
		pos++
		end := i + utf8.RuneLen(r)
		switch r {
		case '。', '！', '？', '!', '?':
		default:
			continue
		}
		// A sentence ends at end; close the chunk once it is long enough.
		chars = pos - startChar
		if chars >= minChars {
			out = append(out, cmrcChunk{context[startByte:end], startChar, pos})
			startByte, startChar = end, pos
		}
	}
	if startByte < len(context) {
		out = append(out, cmrcChunk{context[startByte:], startChar, pos})
	}
	return out
}

// RetrievalMetrics are the scores of one run over a RetrievalSet.
type RetrievalMetrics struct {
	Recall1   float64 `json:"recall@1"`
	Recall5   float64 `json:"recall@5"`
	Recall10  float64 `json:"recall@10"`
	MRR10     float64 `json:"mrr@10"`
	NDCG10    float64 `json:"ndcg@10"`
	Questions int     `json:"questions"`
	Chunks    int     `json:"chunks"`
}

// Evaluate scores rankings: rank(q) returns chunk indexes best first (at
// least the top 10). With one relevant chunk per question, nDCG@10 is
// 1/log2(1+rank) when the gold chunk is ranked within 10.
func (s *RetrievalSet) Evaluate(rank func(q RetrievalQuestion) []int) RetrievalMetrics {
	m := RetrievalMetrics{Questions: len(s.Questions), Chunks: len(s.Chunks)}
	if len(s.Questions) == 0 {
		return m
	}
	for _, q := range s.Questions {
		ranking := rank(q)
		for i, c := range ranking {
			if i >= 10 {
				break
			}
			if c != q.Gold {
				continue
			}
			r := i + 1
			if r == 1 {
				m.Recall1++
			}
			if r <= 5 {
				m.Recall5++
			}
			m.Recall10++
			m.MRR10 += 1 / float64(r)
			m.NDCG10 += 1 / math.Log2(float64(r)+1)
			break
		}
	}
	n := float64(len(s.Questions))
	m.Recall1 /= n
	m.Recall5 /= n
	m.Recall10 /= n
	m.MRR10 /= n
	m.NDCG10 /= n
	return m
}

// RetrievalOptions configure one retrieval run over a RetrievalSet.
type RetrievalOptions struct {
	Mode      Mode
	Tokenizer index.Tokenizer // nil: index.DefaultAnalyzer
	Params    index.BM25Params

	// TitleContext indexes each chunk as "title\nchunk", the way a
	// knowledge base indexes Chunk.ContextText; the chunk itself, and so
	// what counts as a hit, is unchanged.
	TitleContext bool
	DocWeight    float64 // document-level BM25 blend, see Retriever

	Embed       Embedder // dense and hybrid modes
	Fusion      Fusion
	DenseWeight float64

	// Rerank, when set, rescores the best RerankDepth candidates
	// (DefaultRerankDepth when 0) with a cross-encoder.
	Rerank      RerankScorer
	RerankDepth int
}

// Run indexes every chunk, searches every question against all chunks and
// scores the rankings.
func (s *RetrievalSet) Run(ctx context.Context, o RetrievalOptions) (RetrievalMetrics, error) {
	docs := make([]index.Doc, len(s.Chunks))
	for i, c := range s.Chunks {
		text := c
		if o.TitleContext && s.Titles[s.ChunkDoc[i]] != "" {
			text = s.Titles[s.ChunkDoc[i]] + "\n" + c
		}
		docs[i] = index.Doc{ID: strconv.Itoa(i), Text: text, Meta: map[string]string{MetaSource: strconv.Itoa(s.ChunkDoc[i])}}
	}
	r, err := buildRetriever(ctx, docs, o)
	if err != nil {
		return RetrievalMetrics{}, err
	}
	if o.Mode != ModeDense && o.DocWeight > 0 {
		r.Docs = index.NewBM25(o.Params, o.Tokenizer)
		dd := make([]index.Doc, len(s.Docs))
		for i, d := range s.Docs {
			if o.TitleContext && s.Titles[i] != "" {
				d = s.Titles[i] + "\n" + d
			}
			dd[i] = index.Doc{ID: strconv.Itoa(i), Text: d}
		}
		r.Docs.AddBatch(dd)
	}
	var firstErr error
	m := s.Evaluate(func(q RetrievalQuestion) []int {
		if firstErr != nil {
			return nil
		}
		hits, err := r.Search(ctx, q.Text, 10, o.Mode, nil)
		if err != nil {
			firstErr = err
			return nil
		}
		out := make([]int, len(hits))
		for i, h := range hits {
			out[i], _ = strconv.Atoi(h.ID)
		}
		return out
	})
	return m, firstErr
}

// buildRetriever indexes docs for o.Mode (BM25 unless dense, vectors
// unless bm25) and attaches o's reranker, which reads the indexed text.
func buildRetriever(ctx context.Context, docs []index.Doc, o RetrievalOptions) (*Retriever, error) {
	r := &Retriever{DocWeight: o.DocWeight, Fusion: o.Fusion, DenseWeight: o.DenseWeight, Embed: o.Embed}
	if o.Mode != ModeDense {
		r.Lexical = index.NewBM25(o.Params, o.Tokenizer)
		r.Lexical.AddBatch(docs)
	}
	if o.Mode == ModeDense || o.Mode == ModeHybrid {
		if o.Embed == nil {
			return nil, fmt.Errorf("%s retrieval needs an embedder: %w", o.Mode, ErrNoVectors)
		}
		texts := make([]string, len(docs))
		for i, d := range docs {
			texts[i] = d.Text
		}
		vecs, err := o.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed chunks: %w", err)
		}
		if len(vecs) != len(texts) || len(vecs) == 0 {
			return nil, fmt.Errorf("embed chunks: got %d vectors for %d chunks", len(vecs), len(texts))
		}
		flat := index.NewFlat(len(vecs[0]))
		for i, v := range vecs {
			if err := flat.Add(docs[i].ID, v, docs[i].Meta); err != nil {
				return nil, err
			}
		}
		r.Vectors = flat
	}
	if o.Rerank != nil {
		text := make(map[string]string, len(docs))
		for _, d := range docs {
			text[d.ID] = d.Text
		}
		r.Rerank = NewReranker(o.Rerank, func(id string) (string, bool) { t, ok := text[id]; return t, ok }, o.RerankDepth)
		if o.RerankDepth > 50 {
			// The retriever's own default depth (≥ 50) already covers
			// smaller rerank depths.
			r.Depth = o.RerankDepth
		}
	}
	return r, nil
}

// BaselineOptions is the ANCHORS.md baseline: BM25 (k1 0.9, b 0.4) over
// character unigrams and bigrams of the chunk text alone.
func BaselineOptions() RetrievalOptions {
	return RetrievalOptions{Mode: ModeBM25, Tokenizer: index.CharNGrams, Params: index.BM25Params{K1: 0.9, B: 0.4}}
}

// DefaultCMRCOptions is our lexical method for the CMRC protocol: the
// baseline's BM25 constants over two views of the text in one index
// (character unigrams+bigrams, and gse words weighted 3, BM25F-style: see
// index.ChineseViews), each chunk indexed under its document title (what
// a knowledge base does with Chunk.ContextText) and blended with a
// document-level score (DocWeight 0.3). docs/BENCHMARKS.md lists the
// alternatives measured.
func DefaultCMRCOptions() RetrievalOptions {
	o := BaselineOptions()
	o.Tokenizer = index.ChineseViews(3)
	o.TitleContext = true
	o.DocWeight = 0.3
	return o
}
