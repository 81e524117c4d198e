package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"ragtune/index"
	"ragtune/internal/plural"
	"ragtune/rag"
)

func init() {
	registerSub("eval", "retrieval", "retrieval quality on a CMRC 2018 (SQuAD-format) file: recall@k, MRR, nDCG", runEvalRetrieval)
}

func runEvalRetrieval(args []string) error {
	fs := newFlagSet("eval retrieval", "--cmrc FILE [--chunk-chars 120] [--mode bm25|dense|hybrid] [--json]", `
Measures retrieval alone on a CMRC 2018 (or any SQuAD-format) file, by
the protocol docs/BENCHMARKS.md reports: every context is cut into
sentences (after 。！？!?), sentences are merged into chunks of at least
--chunk-chars code points, the gold chunk of a question holds its first
answer's answer_start, and every question is searched against all chunks.
Prints recall@1, recall@5, recall@10, mrr@10 and ndcg@10.

--method baseline is plain BM25 (k1 0.9, b 0.4) over character
unigrams+bigrams; --method ours (default) adds the document title
as chunk context and a document-level BM25 blend. Dense and hybrid modes
need an embedder: a local BERT/bge model (--embed-path) or an OpenAI-compatible
embeddings server (--embed-url).

Examples:
  ragtune eval retrieval --cmrc cmrc2018_dev.json
  ragtune eval retrieval --cmrc cmrc2018_dev.json --method baseline --json
  ragtune eval retrieval --cmrc cmrc2018_dev.json --mode hybrid --embed-path ./bge-small-zh`)
	cmrc := fs.String("cmrc", "", "CMRC 2018 / SQuAD-format JSON `FILE`")
	chunkChars := fs.Int("chunk-chars", 120, "minimum chunk length in code points `N`")
	modeName := fs.String("mode", "bm25", "`MODE`: bm25, dense or hybrid")
	asJSON := fs.Bool("json", false, "print JSON")
	method := fs.String("method", "ours", "`METHOD`: ours or baseline (sets the defaults of --title-context, --doc-weight and --tokens)")
	tokens := fs.String("tokens", "", "lexical `TERMS`: chars (unigrams+bigrams of all characters) or words (gse words + Han bigrams, stop words removed) (default: chars)")
	k1 := fs.Float64("k1", 0.9, "BM25 `k1`")
	b := fs.Float64("b", 0.4, "BM25 `b`")
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
	if *cmrc == "" {
		return usageErrorf("eval retrieval needs --cmrc FILE (a CMRC 2018 or SQuAD-format JSON file, such as cmrc2018_dev.json)")
	}
	if fs.NArg() > 0 {
		return usageErrorf("eval retrieval takes no positional arguments, got %q", fs.Args())
	}
	mode, err := rag.ParseMode(*modeName)
	if err != nil {
		return usageErrorf("%v", err)
	}
	var opts rag.RetrievalOptions
	switch *method {
	case "ours":
		opts = rag.DefaultCMRCOptions()
	case "baseline":
		opts = rag.BaselineOptions()
	default:
		return usageErrorf("--method must be ours or baseline, got %q", *method)
	}
	opts.Mode = mode
	opts.Params = index.BM25Params{K1: *k1, B: *b}
	switch *tokens {
	case "", "chars":
	case "words":
		opts.Tokenizer = index.DefaultAnalyzer().Tokens
	default:
		return usageErrorf("--tokens must be chars or words, got %q", *tokens)
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
	if *embedPath != "" {
		opts.Embed = rag.LocalBertEmbedder(*embedPath)
	} else if *embedURL != "" {
		opts.Embed = rag.RemoteEmbedder(*embedURL, *embedModel, os.Getenv("RAGTUNE_EMBED_API_KEY"), nil)
	} else if mode != rag.ModeBM25 {
		return usageErrorf("--mode %s needs an embedder: pass --embed-path (a local BERT/bge model) or --embed-url of an OpenAI-compatible /v1/embeddings server", mode)
	}
	set, err := rag.LoadCMRC(*cmrc, *chunkChars)
	if err != nil {
		return err
	}
	m, err := set.Run(context.Background(), opts)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	fmt.Printf("%s (%d skipped), %s, mode %s, method %s\n", plural.Count(m.Questions, "question"), set.Skipped, plural.Count(m.Chunks, "chunk"), mode, *method)
	fmt.Printf("recall@1  %.4f\nrecall@5  %.4f\nrecall@10 %.4f\nmrr@10    %.4f\nndcg@10   %.4f\n", m.Recall1, m.Recall5, m.Recall10, m.MRR10, m.NDCG10)
	return nil
}
