package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"ragtune/eval"
	"ragtune/index"
	"ragtune/internal/plural"
	"ragtune/rag"
)

func init() {
	registerSub("eval", "retrieval", "retrieval quality on a CMRC 2018 file, a BEIR-layout set or a knowledge base: recall@k, MRR, nDCG", runEvalRetrieval)
}

func runEvalRetrieval(args []string) error {
	fs := newFlagSet("eval retrieval", "(--cmrc FILE | --corpus FILE --queries FILE --qrels FILE | --kb NAME --queries FILE --qrels FILE) [--mode bm25|dense|hybrid] [--rerank-path DIR|--rerank-url URL] [--json]", `
Measures retrieval alone, on one of three kinds of data.

BEIR layout (--corpus corpus.jsonl --queries queries.jsonl --qrels
qrels.tsv), the format of BEIR and MTEB/C-MTEB retrieval tasks: every
document ("title\ntext") is indexed and every query with a positive qrels
judgment is searched; graded judgments count in nDCG@10, recall@k is the
share of a query's relevant documents in its top k. Queries without
judgments are skipped and counted; qrels ids missing from the corpus or
query file are reported.

A knowledge base (--kb NAME --queries ... --qrels ...): the qrels' corpus
ids name source files (as ingested, or a unique path suffix or base
name); files are ranked by their best chunk.

CMRC 2018 (or any SQuAD-format) file, by
the protocol docs/BENCHMARKS.md reports: every context is cut into
sentences (after 。！？!?), sentences are merged into chunks of at least
--chunk-chars code points, the gold chunk of a question holds its first
answer's answer_start, and every question is searched against all chunks.
Prints recall@1, recall@5, recall@10, mrr@10 and ndcg@10.

--method baseline is plain BM25 (k1 0.9, b 0.4) over character
unigrams+bigrams; --method ours (default) adds a gse word view in the
same index (weighted 3), the document title as chunk context and a
document-level BM25 blend. Dense and hybrid modes
need an embedder: a local BERT/bge model (--embed-path) or an OpenAI-compatible
embeddings server (--embed-url).

--rerank-url (a Jina/Cohere-style /v1/rerank server: llama.cpp, TEI,
Xinference) rescores the best --rerank-depth candidates of any mode.

Examples:
  ragtune eval retrieval --corpus corpus.jsonl --queries queries.jsonl --qrels qrels.tsv --json
  ragtune eval retrieval --kb docs --queries queries.jsonl --qrels qrels.tsv --mode hybrid
  ragtune eval retrieval --cmrc cmrc2018_dev.json
  ragtune eval retrieval --cmrc cmrc2018_dev.json --method baseline --json
  ragtune eval retrieval --cmrc cmrc2018_dev.json --mode hybrid --embed-path ./bge-small-zh`)
	cmrc := fs.String("cmrc", "", "CMRC 2018 / SQuAD-format JSON `FILE`")
	corpus := fs.String("corpus", "", "BEIR corpus.jsonl `FILE` (_id, title, text)")
	queries := fs.String("queries", "", "BEIR queries.jsonl `FILE` (_id, text)")
	qrels := fs.String("qrels", "", "BEIR qrels.tsv `FILE` (query-id, corpus-id, score)")
	kbName, kbRoot := kbFlags(fs)
	rr := rerankFlags(fs)
	chunkChars := fs.Int("chunk-chars", 120, "minimum chunk length in code points `N`")
	modeName := fs.String("mode", "bm25", "`MODE`: bm25, dense or hybrid")
	asJSON := fs.Bool("json", false, "print JSON")
	method := fs.String("method", "ours", "`METHOD`: ours or baseline (sets the defaults of --title-context, --doc-weight and --tokens)")
	tokens := fs.String("tokens", "", "lexical `TERMS`: chars (unigrams+bigrams of all characters), words (gse words + Han bigrams, stop words removed) or views (chars + gse words weighted 3 in one index) (default: views for --cmrc, chars for baseline, words stemmed for BEIR)")
	k1 := fs.Float64("k1", 0.9, "BM25 `k1` (default 0.9 for --cmrc, 1.2 for BEIR)")
	b := fs.Float64("b", 0.4, "BM25 `b` (default 0.4 for --cmrc, 0.75 for BEIR)")
	titleContext := fs.String("title-context", "", "index chunks with their document title: `true` or false (default: true for ours, false for baseline)")
	docWeight := fs.Float64("doc-weight", -1, "`WEIGHT` of the document-level BM25 score (default: 0.3 for ours, 0 for baseline)")
	embedURL := fs.String("embed-url", "", "OpenAI-compatible server `URL` for dense/hybrid (POST /v1/embeddings)")
	embedModel := fs.String("embed-model", "", "embedding model `NAME` sent to --embed-url")
	embedPath := fs.String("embed-path", "", "local BERT/bge encoder for dense/hybrid: HF `DIR` or bert .gguf")
	fusion := fs.String("fusion", "rrf", "hybrid `FUSION`: rrf or relative")
	denseWeight := fs.Float64("dense-weight", 0.5, "hybrid: `WEIGHT` of the dense list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("eval retrieval takes no positional arguments, got %q", fs.Args())
	}
	mode, err := rag.ParseMode(*modeName)
	if err != nil {
		return usageErrorf("%v", err)
	}
	score, depth, err := rr.scorer()
	if err != nil {
		return err
	}
	if f := rag.Fusion(*fusion); f != rag.FusionRRF && f != rag.FusionRelative {
		return usageErrorf("--fusion must be rrf or relative, got %q", *fusion)
	}
	switch {
	case *cmrc != "" && (*corpus != "" || *kbName != ""):
		return usageErrorf("give either --cmrc, or --corpus/--queries/--qrels, or --kb/--queries/--qrels")
	case *cmrc != "":
	case *queries == "" || *qrels == "":
		return usageErrorf("eval retrieval needs --cmrc FILE (a CMRC 2018 or SQuAD-format JSON file), or --queries and --qrels with --corpus FILE (BEIR layout) or --kb NAME")
	case *corpus != "" && *kbName != "":
		return usageErrorf("--corpus and --kb exclude each other: measure either a BEIR corpus or a knowledge base")
	case *kbName != "":
		return evalRetrievalKB(*kbRoot, *kbName, *queries, *qrels, mode, rag.Fusion(*fusion), score, depth, !*rr.none, *asJSON)
	case *corpus == "":
		return usageErrorf("--queries and --qrels need --corpus FILE (BEIR corpus.jsonl) or --kb NAME")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	setK1, setB := given["k1"], given["b"]
	if *cmrc == "" {
		// BEIR: Lucene's BM25 defaults unless given.
		if !setK1 {
			*k1 = 1.2
		}
		if !setB {
			*b = 0.75
		}
	}
	var opts rag.RetrievalOptions
	switch *method {
	case "ours":
		opts = rag.DefaultCMRCOptions()
		if *cmrc == "" {
			opts = rag.DefaultBEIROptions()
		}
	case "baseline":
		opts = rag.BaselineOptions()
	default:
		return usageErrorf("--method must be ours or baseline, got %q", *method)
	}
	opts.Mode = mode
	opts.Params = index.BM25Params{K1: *k1, B: *b}
	switch *tokens {
	case "":
	case "chars":
		opts.Tokenizer = index.CharNGrams
	case "words":
		opts.Tokenizer = index.DefaultAnalyzer().Tokens
	case "views":
		opts.Tokenizer = index.ChineseViews(3)
	default:
		return usageErrorf("--tokens must be chars, words or views, got %q", *tokens)
	}
	switch *titleContext {
	case "":
	case "true":
		opts.TitleContext = true
	case "false":
		opts.TitleContext = false
	default:
		return usageErrorf("--title-context must be true or false, got %q", *titleContext)
	}
	if *docWeight >= 0 {
		opts.DocWeight = *docWeight
	}
	switch rag.Fusion(*fusion) {
	case rag.FusionRRF, rag.FusionRelative:
		opts.Fusion = rag.Fusion(*fusion)
	default:
		return usageErrorf("--fusion must be rrf or relative, got %q", *fusion)
	}
	opts.DenseWeight = *denseWeight
	opts.Rerank, opts.RerankDepth = score, depth
	if *embedPath != "" {
		opts.Embed = rag.LocalBertEmbedder(*embedPath)
	} else if *embedURL != "" {
		opts.Embed = rag.RemoteEmbedder(*embedURL, *embedModel, os.Getenv("RAGTUNE_EMBED_API_KEY"), nil)
	} else if mode != rag.ModeBM25 {
		return usageErrorf("--mode %s needs an embedder: pass --embed-path (a local BERT/bge model) or --embed-url of an OpenAI-compatible /v1/embeddings server", mode)
	}
	if *cmrc == "" {
		return evalRetrievalBEIR(*corpus, *queries, *qrels, opts, *asJSON)
	}
	cset, err := rag.LoadCMRC(*cmrc, *chunkChars)
	if err != nil {
		return err
	}
	m, err := cset.Run(context.Background(), opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(m)
	}
	fmt.Printf("%s (%d skipped), %s, mode %s, method %s\n", plural.Count(m.Questions, "question"), cset.Skipped, plural.Count(m.Chunks, "chunk"), mode, *method)
	printRetrievalMetrics(m)
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printRetrievalMetrics(m rag.RetrievalMetrics) {
	fmt.Printf("recall@1  %.4f\nrecall@5  %.4f\nrecall@10 %.4f\nmrr@10    %.4f\nndcg@10   %.4f\n", m.Recall1, m.Recall5, m.Recall10, m.MRR10, m.NDCG10)
}

// beirReport is the JSON form of a BEIR or knowledge-base run: the scores
// at top level (the keys the CMRC mode prints) plus what was skipped.
type beirReport struct {
	rag.RetrievalMetrics
	NoQrels        int      `json:"queries_without_qrels"`
	MissingDocs    []string `json:"missing_doc_ids,omitempty"`
	MissingQueries []string `json:"missing_query_ids,omitempty"`
}

func reportBEIR(set *rag.BEIRSet, m rag.RetrievalMetrics, what string, asJSON bool) error {
	if asJSON {
		return printJSON(beirReport{m, set.NoQrels, set.MissingDocs, set.MissingQueries})
	}
	fmt.Printf("%s; %s\n", set, what)
	printRetrievalMetrics(m)
	return nil
}

func evalRetrievalBEIR(corpus, queries, qrels string, opts rag.RetrievalOptions, asJSON bool) error {
	set, err := rag.LoadBEIR(corpus, queries, qrels)
	if err != nil {
		return err
	}
	if len(set.Queries) == 0 {
		return fmt.Errorf("no query in %s has a positive judgment in %s that names a document in %s (%s)", queries, qrels, corpus, set)
	}
	m, err := set.Run(context.Background(), opts)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s, mode %s", plural.Count(m.Chunks, "document"), opts.Mode)
	if opts.Rerank != nil {
		what += ", reranked"
	}
	return reportBEIR(set, m, what, asJSON)
}

// evalRetrievalKB measures a knowledge base; without a reranker from the
// flags it uses the one the knowledge base records, unless kbRerank is
// false (--no-rerank).
func evalRetrievalKB(root, name, queries, qrels string, mode rag.Mode, fusion rag.Fusion, score rag.RerankScorer, depth int, kbRerank, asJSON bool) error {
	dir, err := kbDir(root, name)
	if err != nil {
		return err
	}
	set, err := rag.LoadBEIR("", queries, qrels)
	if err != nil {
		return err
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return kbOpenError(err, name)
	}
	defer s.Close()
	if score == nil && kbRerank {
		score, depth = kbReranker(s)
	}
	m, err := set.RunStore(context.Background(), s, rag.KBEvalOptions{Query: rag.Query{Mode: mode, Fusion: fusion}, Rerank: score, RerankDepth: depth})
	if err != nil {
		return err
	}
	if len(set.Queries) == 0 {
		return fmt.Errorf("no judged query names a file of knowledge base %q (%s): qrels corpus ids must be source paths as ingested, a path suffix or a unique base name", name, set)
	}
	what := fmt.Sprintf("knowledge base %s (%s), mode %s", name, plural.Count(m.Chunks, "file"), mode)
	if score != nil {
		what += ", reranked"
	}
	return reportBEIR(set, m, what, asJSON)
}

// rerankOpts are the reranker flags ask, eval and compare share.
type rerankOpts struct {
	path, url, model *string
	depth            *int
	none             *bool
}

func rerankFlags(fs *flag.FlagSet) *rerankOpts {
	return &rerankOpts{
		path:  fs.String("rerank-path", "", "rerank with a local model: HF `DIR` of a BERT/XLM-R sequence-classification cross-encoder (bge-reranker layouts) or a Qwen3-Reranker"),
		url:   fs.String("rerank-url", "", "rerank with a Jina/Cohere-style server at `URL` (POST /v1/rerank; key in RAGTUNE_RERANK_API_KEY)"),
		model: fs.String("rerank-model", "", "reranker model `NAME` sent to --rerank-url"),
		depth: fs.Int("rerank-depth", rag.DefaultRerankDepth, "candidates the reranker rescores `N`"),
		none:  fs.Bool("no-rerank", false, "do not rerank, even where the knowledge base names a reranker"),
	}
}

// config returns the reranker the flags name, or nil.
func (o *rerankOpts) config() (*rag.RerankConfig, error) {
	if *o.path != "" && *o.url != "" {
		return nil, usageErrorf("--rerank-path and --rerank-url exclude each other")
	}
	if *o.depth <= 0 {
		return nil, usageErrorf("--rerank-depth must be positive, got %d", *o.depth)
	}
	if *o.none && (*o.path != "" || *o.url != "") {
		return nil, usageErrorf("--no-rerank contradicts --rerank-path/--rerank-url")
	}
	if *o.path == "" && *o.url == "" {
		return nil, nil
	}
	return &rag.RerankConfig{Path: *o.path, URL: *o.url, Model: *o.model, Depth: *o.depth}, nil
}

// scorer returns the flags' reranker (nil when none) and its depth.
func (o *rerankOpts) scorer() (rag.RerankScorer, int, error) {
	c, err := o.config()
	if c == nil || err != nil {
		return nil, *o.depth, err
	}
	return c.Scorer(), c.Depth, nil
}

// kbReranker is the reranker a knowledge base records, if any; a broken
// record is reported and ignored rather than failing a search.
func kbReranker(s *rag.Store) (rag.RerankScorer, int) {
	c, err := rag.ReadRerankConfig(s.Dir())
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: %v; searching without reranking\n", err)
		return nil, 0
	}
	if c == nil {
		return nil, 0
	}
	return c.Scorer(), c.Depth
}

// recordReranker stores the reranker the flags name in the knowledge base
// at dir (a local path made absolute, so it works from any directory), or
// forgets it on --no-rerank; without either it leaves the record alone.
func recordReranker(dir string, o *rerankOpts) error {
	c, err := o.config()
	if err != nil {
		return err
	}
	if *o.none {
		return rag.WriteRerankConfig(dir, nil)
	}
	if c == nil {
		return nil
	}
	if c.Path != "" {
		if c.Path, err = filepath.Abs(c.Path); err != nil {
			return err
		}
	}
	return rag.WriteRerankConfig(dir, c)
}

func printKBReranker(dir string) {
	c, err := rag.ReadRerankConfig(dir)
	switch {
	case err != nil:
		fmt.Printf("reranker        unreadable: %v\n", err)
	case c == nil:
		fmt.Printf("reranker        none\n")
	case c.Path != "":
		fmt.Printf("reranker        %s (local cross-encoder), depth %d\n", c.Path, max(c.Depth, 1))
	default:
		fmt.Printf("reranker        %s model %q, depth %d\n", c.URL, c.Model, max(c.Depth, 1))
	}
}

// withRerank gives a knowledge-base retriever the reranker the flags
// name, or else the one the knowledge base records (unless --no-rerank).
// Other retrievers (the built-in passages) are returned unchanged.
func withRerank(retr eval.Retriever, o *rerankOpts) (eval.Retriever, error) {
	c, err := o.config()
	if err != nil {
		return nil, err
	}
	kr, ok := retr.(kbRetriever)
	if !ok {
		if c != nil {
			return nil, usageErrorf("--rerank-path/--rerank-url need --kb")
		}
		return retr, nil
	}
	if c != nil {
		kr.rerank = rag.StoreReranker(kr.s, c.Scorer(), c.Depth)
	} else if score, depth := kbReranker(kr.s); score != nil && !*o.none {
		kr.rerank = rag.StoreReranker(kr.s, score, depth)
	}
	return kr, nil
}

// printQueryInstruction shows the instruction queries get before they are
// embedded (kb stats), quoted so a trailing space or newline shows.
func printQueryInstruction(model string) {
	if ins := rag.QueryInstruction(model); ins != "" {
		fmt.Printf("query prefix    %q\n", ins)
	} else {
		fmt.Printf("query prefix    none\n")
	}
}
