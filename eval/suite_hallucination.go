package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"ragtune/index"
	"ragtune/rag"
)

// Passage is one retrieved piece of text. Its position in a Retrieve
// result (1-based) is the number the model cites as [n].
type Passage = rag.Passage

// Retriever finds passages for a query, best first. Package rag's knowledge
// base is adapted to it by the CLI; MemoryRetriever serves small in-memory
// sets such as the default data.
type Retriever interface {
	Retrieve(ctx context.Context, query string, k int) ([]Passage, error)
}

// MemoryRetriever is BM25 over Han unigrams+bigrams and lowercased words,
// in memory.
type MemoryRetriever struct {
	bm  *index.BM25
	all map[string]Passage
}

// NewMemoryRetriever indexes passages; IDs must be unique.
func NewMemoryRetriever(passages []Passage) (*MemoryRetriever, error) {
	r := &MemoryRetriever{bm: index.NewBM25(index.BM25Params{K1: 0.9, B: 0.4}, gramTerms), all: map[string]Passage{}}
	for _, p := range passages {
		if _, dup := r.all[p.ID]; dup || p.ID == "" {
			return nil, fmt.Errorf("passage id %q is empty or repeated", p.ID)
		}
		r.all[p.ID] = p
		r.bm.Add(index.Doc{ID: p.ID, Text: p.Text})
	}
	return r, nil
}

// Retrieve implements Retriever.
func (r *MemoryRetriever) Retrieve(_ context.Context, query string, k int) ([]Passage, error) {
	var out []Passage
	for _, h := range r.bm.Search(query, k, nil) {
		p := r.all[h.ID]
		p.Score = h.Score
		out = append(out, p)
	}
	return out, nil
}

// gramTerms makes every Han character and pair of adjacent Han characters
// a term, and every run of other letters and digits a lowercased word.
// (index.Analyzer loads gse's dictionary, 1.5 s, even without words; a few
// in-memory passages do not need it.)
func gramTerms(text string) []string {
	var out []string
	var word []rune
	prev := rune(-1)
	flush := func() {
		if len(word) > 0 {
			out = append(out, strings.ToLower(string(word)))
			word = word[:0]
		}
	}
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			out = append(out, string(r))
			if prev >= 0 {
				out = append(out, string([]rune{prev, r}))
			}
			prev = r
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word = append(word, r)
		default:
			flush()
		}
		prev = -1
	}
	flush()
	return out
}

// DefaultPassages is the knowledge base the default hallucination items are
// asked against (eval/data/hallucination_kb.jsonl: id, source, text).
func DefaultPassages() ([]Passage, error) {
	b, err := defaultData.ReadFile("data/hallucination_kb.jsonl")
	if err != nil {
		return nil, err
	}
	var out []Passage
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var p Passage
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("eval/data/hallucination_kb.jsonl: %w", err)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// sameSource reports whether a retrieved passage's source (a knowledge
// base stores absolute file paths) is the file an item names, which test
// sets usually give relative to the corpus ("lora.md", "docs/lora.md"):
// equal, or equal to the path's trailing components, either slash style.
func sameSource(passage, item string) bool {
	p := strings.ReplaceAll(passage, `\`, "/")
	it := strings.TrimPrefix(strings.ReplaceAll(item, `\`, "/"), "./")
	if it == "" {
		return false
	}
	return p == it || strings.HasSuffix(p, "/"+it)
}

// SplitSentences cuts text after 。！？!?； and newlines, and after a
// period followed by a space; a citation right after the mark stays with
// its sentence.
func SplitSentences(text string) []string {
	var out []string
	rs := []rune(text)
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(string(rs[start:end])); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		end := -1
		switch {
		case r == '\n':
			end = i + 1
		case strings.ContainsRune("。！？!?；;", r), r == '.' && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])):
			end = i + 1
			// Keep a trailing citation such as "…。[2]" with this sentence.
			if loc := rag.CitationIndex(string(rs[end:])); loc != nil && strings.TrimSpace(string(rs[end:])[:loc[0]]) == "" {
				end += len([]rune(string(rs[end:])[:loc[1]]))
			}
		}
		if end > 0 {
			flush(end)
			i = end - 1
		}
	}
	flush(len(rs))
	return out
}

// supportTerms folds text for support scoring (citations removed,
// full-width folded, lowercased) and returns its terms: every pair of
// adjacent Han characters (a lone Han character by itself) and every run of
// other letters and digits as a word. Character pairs suit Chinese, where
// words are not delimited; whole words suit other scripts, where letter
// pairs such as "th" occur in any passage.
func supportTerms(s string) []string {
	s = strings.ToLower(swapWidthToHalf(rag.StripCitations(s)))
	var out []string
	var han, word []rune
	flush := func() {
		if len(word) > 0 {
			out = append(out, string(word))
			word = word[:0]
		}
		if len(han) == 1 {
			out = append(out, string(han))
		}
		for i := 0; i+1 < len(han); i++ {
			out = append(out, string(han[i:i+2]))
		}
		han = han[:0]
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			if len(word) > 0 {
				flush()
			}
			han = append(han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if len(han) > 0 {
				flush()
			}
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// SupportScore is the share of the sentence's terms (Chinese character
// bigrams and other words, see supportTerms) that also occur in the
// passage: 1 when all of them do. Sentences with fewer than
// minSupportTerms terms return -1: too short to judge ("是的。", a lone
// citation).
func SupportScore(sentence, passage string) float64 {
	st := supportTerms(sentence)
	if len(st) < minSupportTerms {
		return -1
	}
	have := map[string]bool{}
	for _, t := range supportTerms(passage) {
		have[t] = true
	}
	hit := 0
	for _, t := range st {
		if have[t] {
			hit++
		}
	}
	return float64(hit) / float64(len(st))
}

const minSupportTerms = 3

// HallucinationResult holds both halves of the suite.
type HallucinationResult struct {
	Items int `json:"items"`
	// ClosedBook: greedy answers without context against the references.
	ClosedBook TextScores `json:"closed_book"`
	// RAG is nil when no retriever was given.
	RAG   *RAGGrounding       `json:"rag,omitempty"`
	Cases []HallucinationCase `json:"cases"`
}

// RAGGrounding measures answers given retrieved context. Sentences are
// judged by SupportScore against Thresholds.Support.
type RAGGrounding struct {
	TopK int `json:"top_k"`
	// Answer quality with context, against the references.
	Scores TextScores `json:"scores"`
	// Citations counts every [n] in the answers; CitationValidity is the
	// percent of them that name a retrieved passage (1 ≤ n ≤ retrieved).
	Citations        int     `json:"citations"`
	CitationValidity float64 `json:"citation_validity"`
	// CitationSupport is the percent of valid citations whose passage
	// supports the sentence carrying them.
	CitationSupport float64 `json:"citation_support"`
	// Sentences counts the judged answer sentences (long enough to
	// judge); UnsupportedShare is the percent of them that no retrieved
	// passage supports: the hallucination rate.
	Sentences        int     `json:"sentences"`
	UnsupportedShare float64 `json:"unsupported_share"`
	// UncitedAnswers is the percent of non-empty answers without any
	// citation.
	UncitedAnswers float64 `json:"uncited_answers"`
	// SourceRecall is the percent of items with a known source whose
	// source was among the retrieved passages (-1: no item names one).
	SourceRecall float64 `json:"source_recall"`
	// RetrievalMsP50 is the median retrieval time.
	RetrievalMsP50 float64 `json:"retrieval_ms_p50"`
}

// HallucinationCase is one item's answers.
type HallucinationCase struct {
	ID          string   `json:"id"`
	Question    string   `json:"question"`
	ClosedBook  string   `json:"closed_book"`
	ClosedF1    float64  `json:"closed_f1"`
	RAGAnswer   string   `json:"rag_answer,omitempty"`
	Retrieved   []string `json:"retrieved,omitempty"` // passage ids, in citation order
	Citations   []int    `json:"citations,omitempty"`
	Unsupported []string `json:"unsupported,omitempty"` // sentences no passage supports
}

// grounding judges one RAG answer against its passages.
type grounding struct {
	citations, valid, supportedCites, sentences, unsupported int
	unsupportedText                                          []string
	cited                                                    []int
}

func judgeGrounding(ans string, ps []Passage, th Thresholds) grounding {
	var g grounding
	for _, s := range SplitSentences(ans) {
		cites := rag.ParseCitations(s)
		g.cited = append(g.cited, cites...)
		best := -1.0
		for _, p := range ps {
			best = max(best, SupportScore(s, p.Text))
		}
		for _, n := range cites {
			g.citations++
			if n >= 1 && n <= len(ps) {
				g.valid++
				if SupportScore(s, ps[n-1].Text) >= th.Support {
					g.supportedCites++
				}
			}
		}
		if len(supportTerms(s)) < minSupportTerms {
			continue // too short to judge
		}
		g.sentences++
		if best < th.Support {
			g.unsupported++
			g.unsupportedText = append(g.unsupportedText, s)
		}
	}
	return g
}

// RunHallucination answers every item closed-book and, with a retriever,
// again with the top-k passages in the prompt.
func RunHallucination(ctx context.Context, m *Model, items []Item, r Retriever, topK int, g GenOptions, th Thresholds, pr *progress) (*HallucinationResult, error) {
	th = th.withDefaults()
	if topK <= 0 {
		topK = 3
	}
	res := &HallucinationResult{Items: len(items)}
	closed := make([]string, len(items))
	ragAns := make([]string, len(items))
	var tot grounding
	var retrMs []float64
	withSource, sourceHit, answered, uncited := 0, 0, 0, 0
	// The closed-book answers are submitted together; the RAG ones wait
	// for their retrieval inside the loop.
	g, stop := g.prefetch(ctx, m, questions(items))
	defer stop()
	for i, it := range items {
		ans, _, err := answer(ctx, m, g, it.Question)
		if err != nil {
			return nil, err
		}
		closed[i] = ans
		c := HallucinationCase{ID: it.ID, Question: it.Question, ClosedBook: ans}
		_, c.ClosedF1 = qaScore(it, ans)
		c.ClosedF1 = finite(c.ClosedF1)
		if r != nil {
			t0 := time.Now()
			ps, err := r.Retrieve(ctx, it.Question, topK)
			if err != nil {
				return nil, fmt.Errorf("retrieve for item %s: %w", it.ID, err)
			}
			retrMs = append(retrMs, float64(time.Since(t0).Microseconds())/1000)
			ra, _, err := answer(ctx, m, g, rag.Prompt(it.Question, ps, rag.PromptOptions{Lang: it.Lang}))
			if err != nil {
				return nil, err
			}
			ragAns[i] = rag.StripCitations(ra)
			gr := judgeGrounding(ra, ps, th)
			tot.citations += gr.citations
			tot.valid += gr.valid
			tot.supportedCites += gr.supportedCites
			tot.sentences += gr.sentences
			tot.unsupported += gr.unsupported
			if strings.TrimSpace(ra) != "" {
				answered++
				if gr.citations == 0 {
					uncited++
				}
			}
			if it.Source != "" {
				withSource++
				for _, p := range ps {
					if sameSource(p.Source, it.Source) {
						sourceHit++
						break
					}
				}
			}
			c.RAGAnswer = ra
			c.Citations = gr.cited
			c.Unsupported = gr.unsupportedText
			for _, p := range ps {
				c.Retrieved = append(c.Retrieved, p.ID)
			}
		}
		res.Cases = append(res.Cases, c)
		pr.step()
	}
	var err error
	if res.ClosedBook, err = scoreTexts(items, closed); err != nil {
		return nil, err
	}
	if r == nil {
		return res, nil
	}
	pct := func(k, n int) float64 {
		if n == 0 {
			return 0
		}
		return 100 * float64(k) / float64(n)
	}
	gr := &RAGGrounding{
		TopK: topK, Citations: tot.citations, CitationValidity: pct(tot.valid, tot.citations),
		CitationSupport: pct(tot.supportedCites, tot.valid), Sentences: tot.sentences,
		UnsupportedShare: pct(tot.unsupported, tot.sentences), UncitedAnswers: pct(uncited, answered),
		SourceRecall: -1, RetrievalMsP50: finite(percentile(retrMs, 0.5)),
	}
	if withSource > 0 {
		gr.SourceRecall = pct(sourceHit, withSource)
	}
	if gr.Scores, err = scoreTexts(items, ragAns); err != nil {
		return nil, err
	}
	res.RAG = gr
	return res, nil
}
