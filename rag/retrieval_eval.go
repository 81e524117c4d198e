package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"ragtune/index"
	"ragtune/internal/cli"
)

// RetrievalChoice is what 'ragtune eval retrieval' was asked for: a
// method whose defaults apply first, then every setting given. Options
// turns it into RetrievalOptions.
type RetrievalChoice struct {
	CMRC   bool   // CMRC/SQuAD data (else a BEIR layout, whose defaults differ)
	Method string // "ours" or "baseline"
	Mode   Mode
	K1, B  float64

	// Tokens names the lexical terms: "chars", "words", "views", or ""
	// for the method's.
	Tokens string
	// TitleContext is "true", "false", or "" for the method's.
	TitleContext string
	DocWeight    float64 // negative: the method's

	Fusion      Fusion
	DenseWeight float64
	Rerank      RerankScorer
	RerankDepth int

	// The embedder of dense and hybrid modes: a local BERT/bge model at
	// EmbedPath, else an OpenAI-compatible server at EmbedURL.
	EmbedPath, EmbedURL, EmbedModel, EmbedKey string
}

// Options resolves the choice; a setting out of its range, or a dense
// mode without an embedder, is a usage error.
func (c RetrievalChoice) Options() (RetrievalOptions, error) {
	var opts RetrievalOptions
	switch c.Method {
	case "ours":
		opts = DefaultCMRCOptions()
		if !c.CMRC {
			opts = DefaultBEIROptions()
		}
	case "baseline":
		opts = BaselineOptions()
	default:
		return opts, cli.Usagef("--method must be ours or baseline, got %q", c.Method)
	}
	opts.Mode = c.Mode
	opts.Params = index.BM25Params{K1: c.K1, B: c.B}
	switch c.Tokens {
	case "":
	case "chars":
		opts.Tokenizer = index.CharNGrams
	case "words":
		opts.Tokenizer = index.DefaultAnalyzer().Tokens
	case "views":
		opts.Tokenizer = index.ChineseViews(3)
	default:
		return opts, cli.Usagef("--tokens must be chars, words or views, got %q", c.Tokens)
	}
	switch c.TitleContext {
	case "":
	case "true":
		opts.TitleContext = true
	case "false":
		opts.TitleContext = false
	default:
		return opts, cli.Usagef("--title-context must be true or false, got %q", c.TitleContext)
	}
	if c.DocWeight >= 0 {
		opts.DocWeight = c.DocWeight
	}
	switch c.Fusion {
	case FusionRRF, FusionRelative:
		opts.Fusion = c.Fusion
	default:
		return opts, cli.Usagef("--fusion must be rrf or relative, got %q", c.Fusion)
	}
	opts.DenseWeight = c.DenseWeight
	opts.Rerank, opts.RerankDepth = c.Rerank, c.RerankDepth
	if c.EmbedPath != "" {
		opts.Embed = LocalBertEmbedder(c.EmbedPath)
	} else if c.EmbedURL != "" {
		opts.Embed = RemoteEmbedder(c.EmbedURL, c.EmbedModel, c.EmbedKey, nil)
	} else if c.Mode != ModeBM25 {
		return opts, cli.Usagef("--mode %s needs an embedder: pass --embed-path (a local BERT/bge model) or --embed-url of an OpenAI-compatible /v1/embeddings server", c.Mode)
	}
	return opts, nil
}

// RunBEIRFiles loads a BEIR-layout set and measures o on it; a set in
// which no judged query names a document is an error, not a zero score.
func RunBEIRFiles(ctx context.Context, corpus, queries, qrels string, o RetrievalOptions) (*BEIRSet, RetrievalMetrics, error) {
	set, err := LoadBEIR(corpus, queries, qrels)
	if err != nil {
		return nil, RetrievalMetrics{}, err
	}
	if len(set.Queries) == 0 {
		return nil, RetrievalMetrics{}, fmt.Errorf("no query in %s has a positive judgment in %s that names a document in %s (%s)", queries, qrels, corpus, set)
	}
	m, err := set.Run(ctx, o)
	return set, m, err
}

// RunKB is RunStore on the knowledge base called name; qrels that name
// none of its files are an error that says how corpus ids must look.
func (set *BEIRSet) RunKB(ctx context.Context, s *Store, name string, o KBEvalOptions) (RetrievalMetrics, error) {
	m, err := set.RunStore(ctx, s, o)
	if err != nil {
		return m, err
	}
	if len(set.Queries) == 0 {
		return m, fmt.Errorf("no judged query names a file of knowledge base %q (%s): qrels corpus ids must be source paths as ingested, a path suffix or a unique base name", name, set)
	}
	return m, nil
}

// WriteText writes the scores one per line, as 'ragtune eval retrieval'
// prints them.
func (m RetrievalMetrics) WriteText(w io.Writer) {
	fmt.Fprintf(w, "recall@1  %.4f\nrecall@5  %.4f\nrecall@10 %.4f\nmrr@10    %.4f\nndcg@10   %.4f\n", m.Recall1, m.Recall5, m.Recall10, m.MRR10, m.NDCG10)
}

// BEIRReport is the JSON form of a BEIR or knowledge-base run: the scores
// at top level (the keys the CMRC mode prints) plus what was skipped.
type BEIRReport struct {
	RetrievalMetrics
	NoQrels        int      `json:"queries_without_qrels"`
	MissingDocs    []string `json:"missing_doc_ids,omitempty"`
	MissingQueries []string `json:"missing_query_ids,omitempty"`
}

// WriteBEIRReport writes a run over set as indented JSON (BEIRReport), or
// as the set's description, what was measured, and the scores.
func WriteBEIRReport(w io.Writer, set *BEIRSet, m RetrievalMetrics, what string, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(BEIRReport{m, set.NoQrels, set.MissingDocs, set.MissingQueries})
	}
	fmt.Fprintf(w, "%s; %s\n", set, what)
	m.WriteText(w)
	return nil
}

// RunCMRCFile loads a CMRC 2018 (or SQuAD-format) file cut into chunks of
// at least chunkChars code points and measures o on it.
func RunCMRCFile(ctx context.Context, path string, chunkChars int, o RetrievalOptions) (*RetrievalSet, RetrievalMetrics, error) {
	set, err := LoadCMRC(path, chunkChars)
	if err != nil {
		return nil, RetrievalMetrics{}, err
	}
	m, err := set.Run(ctx, o)
	return set, m, err
}

// WriteJSON writes the scores as indented JSON (the keys of
// RetrievalMetrics), as 'ragtune eval retrieval --json' prints a CMRC run.
func (m RetrievalMetrics) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// RunKBFiles measures the knowledge base at dir, called name, on
// BEIR-layout queries and qrels whose corpus ids name its files (see
// RunStore). Without o.Rerank it reranks with the reranker the knowledge
// base records, if useRecorded (a broken record is reported on warn); it
// returns the options the run used. Opening errors are OpenStore's
// (ErrNoKB where there is no knowledge base).
func RunKBFiles(ctx context.Context, dir, name, queries, qrels string, o KBEvalOptions, useRecorded bool, warn io.Writer) (*BEIRSet, RetrievalMetrics, KBEvalOptions, error) {
	set, err := LoadBEIR("", queries, qrels)
	if err != nil {
		return nil, RetrievalMetrics{}, o, err
	}
	s, err := OpenStore(dir, nil, true)
	if err != nil {
		return nil, RetrievalMetrics{}, o, err
	}
	defer s.Close()
	if o.Rerank == nil && useRecorded {
		o.Rerank, o.RerankDepth = RecordedRerankScorer(s, warn)
	}
	m, err := set.RunKB(ctx, s, name, o)
	return set, m, o, err
}
