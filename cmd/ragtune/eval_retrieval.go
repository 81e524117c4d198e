package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"ragtune/eval"
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
	score, depth, err := rr.Scorer()
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
	if *cmrc == "" {
		// BEIR: Lucene's BM25 defaults unless given.
		if !given["k1"] {
			*k1 = 1.2
		}
		if !given["b"] {
			*b = 0.75
		}
	}
	opts, err := rag.RetrievalChoice{CMRC: *cmrc != "", Method: *method, Mode: mode, K1: *k1, B: *b, Tokens: *tokens,
		TitleContext: *titleContext, DocWeight: *docWeight, Fusion: rag.Fusion(*fusion), DenseWeight: *denseWeight,
		Rerank: score, RerankDepth: depth, EmbedPath: *embedPath, EmbedURL: *embedURL, EmbedModel: *embedModel,
		EmbedKey: os.Getenv("RAGTUNE_EMBED_API_KEY")}.Options()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if *cmrc == "" {
		set, m, err := rag.RunBEIRFiles(ctx, *corpus, *queries, *qrels, opts)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("%s, mode %s", plural.Count(m.Chunks, "document"), opts.Mode)
		if opts.Rerank != nil {
			what += ", reranked"
		}
		return rag.WriteBEIRReport(os.Stdout, set, m, what, *asJSON)
	}
	cset, m, err := rag.RunCMRCFile(ctx, *cmrc, *chunkChars, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return m.WriteJSON(os.Stdout)
	}
	fmt.Printf("%s (%d skipped), %s, mode %s, method %s\n", plural.Count(m.Questions, "question"), cset.Skipped, plural.Count(m.Chunks, "chunk"), mode, *method)
	m.WriteText(os.Stdout)
	return nil
}

// evalRetrievalKB measures a knowledge base; without a reranker from the
// flags it uses the one the knowledge base records, unless kbRerank is
// false (--no-rerank).
func evalRetrievalKB(root, name, queries, qrels string, mode rag.Mode, fusion rag.Fusion, score rag.RerankScorer, depth int, kbRerank, asJSON bool) error {
	dir, err := rag.KBDir(root, name)
	if err != nil {
		return err
	}
	set, m, o, err := rag.RunKBFiles(context.Background(), dir, name, queries, qrels,
		rag.KBEvalOptions{Query: rag.Query{Mode: mode, Fusion: fusion}, Rerank: score, RerankDepth: depth}, kbRerank, os.Stderr)
	if err != nil {
		return rag.KBOpenError(err, name)
	}
	what := fmt.Sprintf("knowledge base %s (%s), mode %s", name, plural.Count(m.Chunks, "file"), mode)
	if o.Rerank != nil {
		what += ", reranked"
	}
	return rag.WriteBEIRReport(os.Stdout, set, m, what, asJSON)
}

// rerankOpts are the reranker flags ask, eval, compare and ingest
// share, read into a rag.RerankChoice.
type rerankOpts struct {
	rag.RerankChoice
	none *bool // --no-rerank: &RerankChoice.None
}

func rerankFlags(fs *flag.FlagSet) *rerankOpts {
	o := &rerankOpts{}
	fs.StringVar(&o.Path, "rerank-path", "", "rerank with a local model: HF `DIR` of a BERT/XLM-R sequence-classification cross-encoder (bge-reranker layouts) or a Qwen3-Reranker")
	fs.StringVar(&o.URL, "rerank-url", "", "rerank with a Jina/Cohere-style server at `URL` (POST /v1/rerank; key in RAGTUNE_RERANK_API_KEY)")
	fs.StringVar(&o.Model, "rerank-model", "", "reranker model `NAME` sent to --rerank-url")
	fs.IntVar(&o.Depth, "rerank-depth", rag.DefaultRerankDepth, "candidates the reranker rescores `N`")
	fs.BoolVar(&o.None, "no-rerank", false, "do not rerank, even where the knowledge base names a reranker")
	o.none = &o.None
	return o
}

// withRerank gives a knowledge-base retriever the reranker the flags
// name, or else the one the knowledge base records (unless --no-rerank).
func withRerank(retr eval.Retriever, o *rerankOpts) (eval.Retriever, error) {
	c, err := o.Config()
	if err != nil {
		return nil, err
	}
	if _, ok := retr.(eval.StoreRetriever); !ok && c != nil {
		return nil, usageErrorf("--rerank-path/--rerank-url need --kb")
	}
	return eval.WithRerank(retr, c, *o.none, os.Stderr), nil
}
