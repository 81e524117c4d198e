package rag

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"ragtune/index"
)

// BEIRSet is a retrieval benchmark in the BEIR layout (corpus.jsonl,
// queries.jsonl, qrels.tsv), the format BEIR and MTEB/C-MTEB retrieval
// tasks ship in. Unlike RetrievalSet a query may have several relevant
// documents with graded relevance.
type BEIRSet struct {
	Docs    []BEIRDoc
	Queries []BEIRQuery // only queries with at least one relevant, known document

	// NoQrels counts queries in queries.jsonl that no qrels line with a
	// positive score names; they are skipped, as BEIR's evaluator does.
	NoQrels int
	// MissingDocs and MissingQueries list ids that qrels name but the
	// corpus or query file lacks (sorted, each once); such qrels lines are
	// ignored.
	MissingDocs    []string
	MissingQueries []string
}

// BEIRDoc is one corpus.jsonl record.
type BEIRDoc struct {
	ID    string
	Title string
	Text  string
}

// BEIRQuery is one query with its relevance judgments (document id →
// grade, grades > 0 only).
type BEIRQuery struct {
	ID   string
	Text string
	Rel  map[string]int
}

// beirID accepts ids written as JSON strings or numbers: some BEIR
// conversions write "_id": 123.
type beirID string

func (b *beirID) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = beirID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("_id must be a string or a number, got %s", data)
	}
	*b = beirID(n.String())
	return nil
}

type beirRecord struct {
	ID    *beirID `json:"_id"`
	Title string  `json:"title"`
	Text  string  `json:"text"`
}

// LoadBEIR reads a BEIR-layout data set. The qrels file is tab- or
// space-separated `query-id corpus-id score`, with or without the header
// line; lines with score ≤ 0 are judgments of non-relevance and do not
// count as relevant. Duplicate ids in the corpus or query file are errors.
// With corpusPath "" (measuring a knowledge base, whose documents are its
// files) every document id the qrels name is accepted.
func LoadBEIR(corpusPath, queriesPath, qrelsPath string) (*BEIRSet, error) {
	set := &BEIRSet{}
	docIDs := map[string]bool{}
	if corpusPath == "" {
		docIDs = nil
	}
	err := readJSONLIf(corpusPath != "", corpusPath, "corpus", func(line int, r beirRecord) error {
		id := string(*r.ID)
		if docIDs[id] {
			return fmt.Errorf("duplicate document _id %q", id)
		}
		docIDs[id] = true
		set.Docs = append(set.Docs, BEIRDoc{ID: id, Title: r.Title, Text: r.Text})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var queries []BEIRQuery
	queryIdx := map[string]int{}
	err = readJSONL(queriesPath, "queries", func(line int, r beirRecord) error {
		id := string(*r.ID)
		if _, dup := queryIdx[id]; dup {
			return fmt.Errorf("duplicate query _id %q", id)
		}
		queryIdx[id] = len(queries)
		queries = append(queries, BEIRQuery{ID: id, Text: r.Text, Rel: map[string]int{}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	missDoc, missQuery := map[string]bool{}, map[string]bool{}
	err = readQrels(qrelsPath, func(q, d string, score int) {
		qi, okQ := queryIdx[q]
		if !okQ {
			missQuery[q] = true
		}
		okD := docIDs == nil || docIDs[d]
		if !okD {
			missDoc[d] = true
		}
		if okQ && okD && score > 0 {
			queries[qi].Rel[d] = score
		}
	})
	if err != nil {
		return nil, err
	}
	for _, q := range queries {
		if len(q.Rel) == 0 {
			set.NoQrels++
			continue
		}
		set.Queries = append(set.Queries, q)
	}
	set.MissingDocs = sortedKeys(missDoc)
	set.MissingQueries = sortedKeys(missQuery)
	return set, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func readJSONLIf(read bool, path, what string, fn func(line int, r beirRecord) error) error {
	if !read {
		return nil
	}
	return readJSONL(path, what, fn)
}

// readJSONL calls fn for every non-blank line of a BEIR JSON-lines file;
// errors name the file and line.
func readJSONL(path, what string, fn func(line int, r beirRecord) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open BEIR %s file: %w", what, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		text, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if s := strings.TrimSpace(text); s != "" {
			var r beirRecord
			if jerr := json.Unmarshal([]byte(s), &r); jerr != nil {
				return fmt.Errorf("%s:%d: not a JSON object with _id, title, text: %w", path, line, jerr)
			}
			if r.ID == nil || *r.ID == "" {
				return fmt.Errorf("%s:%d: record has no _id", path, line)
			}
			if ferr := fn(line, r); ferr != nil {
				return fmt.Errorf("%s:%d: %w", path, line, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

func readQrels(path string, fn func(q, d string, score int)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open BEIR qrels file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		// TREC qrels carry an iteration column: qid 0 docid score.
		if len(fields) == 4 {
			fields = []string{fields[0], fields[2], fields[3]}
		}
		if len(fields) != 3 {
			return fmt.Errorf("%s:%d: want `query-id corpus-id score`, got %d fields", path, line, len(fields))
		}
		score, err := strconv.Atoi(fields[2])
		if err != nil {
			if line == 1 {
				continue // the header line
			}
			return fmt.Errorf("%s:%d: score %q is not an integer", path, line, fields[2])
		}
		fn(fields[0], fields[1], score)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// queryScores are one query's contributions to RetrievalMetrics.
type queryScores struct{ r1, r5, r10, mrr, ndcg float64 }

// scoreRanking scores one ranking (document ids, best first) against
// graded judgments the way BEIR (pytrec_eval) does: recall@k is the share
// of relevant documents in the top k, MRR@10 the reciprocal rank of the
// first relevant one, and nDCG@10 uses gain = grade and a log2(rank+1)
// discount against the ideal ordering of the judged grades.
func scoreRanking(rel map[string]int, ranking []string) queryScores {
	var s queryScores
	if len(rel) == 0 {
		return s
	}
	seen := map[string]bool{}
	found := 0
	var dcg float64
	for i, id := range ranking {
		if i >= 10 {
			break
		}
		if seen[id] {
			continue // a ranking listing a document twice gains once
		}
		seen[id] = true
		g, ok := rel[id]
		if !ok {
			continue
		}
		found++
		r := i + 1
		if s.mrr == 0 {
			s.mrr = 1 / float64(r)
		}
		dcg += float64(g) / math.Log2(float64(r)+1)
		n := float64(len(rel))
		if r <= 1 {
			s.r1 += 1 / n
		}
		if r <= 5 {
			s.r5 += 1 / n
		}
		s.r10 += 1 / n
	}
	grades := make([]int, 0, len(rel))
	for _, g := range rel {
		grades = append(grades, g)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	var idcg float64
	for i, g := range grades {
		if i >= 10 {
			break
		}
		idcg += float64(g) / math.Log2(float64(i)+2)
	}
	if idcg > 0 {
		s.ndcg = dcg / idcg
	}
	return s
}

// Evaluate scores rankings: rank(q) returns document ids best first (at
// least the top 10).
func (s *BEIRSet) Evaluate(rank func(q BEIRQuery) ([]string, error)) (RetrievalMetrics, error) {
	m := RetrievalMetrics{Questions: len(s.Queries), Chunks: len(s.Docs)}
	for _, q := range s.Queries {
		ranking, err := rank(q)
		if err != nil {
			return RetrievalMetrics{}, fmt.Errorf("query %s: %w", q.ID, err)
		}
		qs := scoreRanking(q.Rel, ranking)
		m.Recall1 += qs.r1
		m.Recall5 += qs.r5
		m.Recall10 += qs.r10
		m.MRR10 += qs.mrr
		m.NDCG10 += qs.ndcg
	}
	if n := float64(len(s.Queries)); n > 0 {
		m.Recall1 /= n
		m.Recall5 /= n
		m.Recall10 /= n
		m.MRR10 /= n
		m.NDCG10 /= n
	}
	return m, nil
}

// Run indexes every document (title and text; see RetrievalOptions) and
// searches every judged query against all of them.
func (s *BEIRSet) Run(ctx context.Context, o RetrievalOptions) (RetrievalMetrics, error) {
	docs := make([]index.Doc, len(s.Docs))
	for i, d := range s.Docs {
		text := d.Text
		if d.Title != "" {
			text = d.Title + "\n" + d.Text
		}
		docs[i] = index.Doc{ID: d.ID, Text: text}
	}
	r, err := buildRetriever(ctx, docs, o)
	if err != nil {
		return RetrievalMetrics{}, err
	}
	return s.Evaluate(func(q BEIRQuery) ([]string, error) {
		hits, err := r.Search(ctx, q.Text, 10, o.Mode, nil)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(hits))
		for i, h := range hits {
			out[i] = h.ID
		}
		return out, nil
	})
}

// DefaultBEIROptions is our lexical method for BEIR-layout sets: BM25
// with the Lucene defaults over the knowledge-base analyzer plus Porter
// stemming (index.EnglishAnalyzer), each document indexed as
// "title\ntext".
func DefaultBEIROptions() RetrievalOptions {
	return RetrievalOptions{Mode: ModeBM25, Params: index.DefaultBM25Params, Tokenizer: index.EnglishAnalyzer().Tokens}
}
