package eval

import (
	"context"
	"io"

	"ragtune/internal/cli"
	"ragtune/rag"
)

// StoreRetriever adapts a knowledge base to Retriever, so the suites and
// compare retrieve the way 'ragtune ask' does.
type StoreRetriever struct {
	Store  *rag.Store
	Mode   rag.Mode
	Rerank rag.Reranker // optional, see WithRerank
}

// Retrieve searches the knowledge base for the n best passages.
func (k StoreRetriever) Retrieve(ctx context.Context, q string, n int) ([]Passage, error) {
	res, err := k.Store.Search(ctx, rag.Query{Text: q, K: n, Mode: k.Mode, Rerank: k.Rerank})
	if err != nil {
		return nil, err
	}
	out := make([]Passage, len(res))
	for i, r := range res {
		out[i] = Passage{ID: r.ID, Source: r.Chunk.Source, Text: r.Chunk.Text, Score: r.Score}
	}
	return out, nil
}

// WithRerank gives a knowledge-base retriever the reranker c names, or
// else the one the knowledge base records unless none is set (a broken
// record is reported on warn and ignored). Other retrievers (the built-in
// passages) are returned unchanged: there is nothing to rerank them with.
func WithRerank(retr Retriever, c *rag.RerankConfig, none bool, warn io.Writer) Retriever {
	kr, ok := retr.(StoreRetriever)
	if !ok {
		return retr
	}
	if r := rag.QueryReranker(kr.Store, c, none, warn); r != nil {
		kr.Rerank = r
	}
	return kr
}

// OpenStoreRetriever opens the knowledge base at dir read-only and
// searches it in the mode named by modeName (bm25, dense or hybrid; any
// other name is a usage error). Close its Store when done.
func OpenStoreRetriever(dir, modeName string) (StoreRetriever, error) {
	mode, err := rag.ParseMode(modeName)
	if err != nil {
		return StoreRetriever{}, cli.Usagef("%v", err)
	}
	s, err := rag.OpenStore(dir, nil, true)
	if err != nil {
		return StoreRetriever{}, err
	}
	return StoreRetriever{Store: s, Mode: mode}, nil
}
