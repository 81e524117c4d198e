package rag

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"ragtune/index"
)

// A knowledge base whose chunks live in Weaviate keeps the same directory
// as an embedded one (kb.json, snapshot.bin, wal.log, LOCK), holding one
// small record per document: path, content hash, size, title and chunk
// count, but no chunk text, vector or index. So the client's memory and
// disk grow with the number of files, not with the corpus, and every
// command that opens a knowledge base (ask, serve, eval, compare, kb)
// works on it unchanged: Search, AddDocuments, Ingest, Delete and Stats
// go to Weaviate where the embedded store would use its own indexes.
//
// Crash safety and resumption: a commit first writes the documents to
// Weaviate (acknowledged at the consistency level) and only then appends
// their records to the local log. A crash in between leaves chunks in
// Weaviate that the local record does not know; the next ingest sees the
// files as new or changed, writes them again (objects are keyed by chunk
// ID, so this replaces rather than duplicates) and deletes every chunk of
// theirs beyond the current count. The local record therefore never
// claims a document Weaviate has not acknowledged.

// RemoteConfig, in kb.json, says that a knowledge base's chunks live in
// an external store. The API key is never written: commands read it from
// $RAGTUNE_WEAVIATE_API_KEY (ingest's --weaviate-api-key sets it for its
// own run).
type RemoteConfig struct {
	Kind string `json:"kind"` // "weaviate"
	// URL is the Weaviate REST address; several nodes of one cluster may
	// be listed, comma-separated, and a request that cannot reach one
	// node is retried on the next.
	URL         string `json:"url"`
	Class       string `json:"class"`
	Replication int    `json:"replication,omitempty"` // the collection's replication factor (0: 1)
	Consistency string `json:"consistency,omitempty"` // "" means DefaultConsistency
}

// Store kinds, as StoreStats.Store names them.
const (
	StoreEmbedded = "embedded"
	StoreWeaviate = "weaviate"
)

// WeaviateAPIKeyEnv names the environment variable holding the Weaviate
// API key of every knowledge base stored there.
const WeaviateAPIKeyEnv = "RAGTUNE_WEAVIATE_API_KEY"

// WeaviateClassFor derives a collection name from a knowledge-base name:
// "Ragtune_" and the name with every character Weaviate does not allow
// in a class name replaced by "_" and a leading letter upper-cased.
func WeaviateClassFor(kbName string) string {
	var b strings.Builder
	b.WriteString("Ragtune_")
	for _, r := range kbName {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// weaviateConfig is the client configuration a knowledge base's record
// names, with the API key from the environment.
func (rc *RemoteConfig) weaviateConfig(bm25 index.BM25Params) WeaviateConfig {
	return WeaviateConfig{URL: rc.URL, Class: rc.Class, APIKey: os.Getenv(WeaviateAPIKeyEnv),
		Replication: rc.Replication, Consistency: rc.Consistency, BM25: bm25}
}

// openRemote makes the handle of a knowledge base stored elsewhere
// (without contacting it).
func openRemote(cfg StoreConfig) (*Weaviate, error) {
	rc := cfg.Store
	if rc.Kind != StoreWeaviate {
		return nil, &Error{Public: "the knowledge base names an unknown store", Err: fmt.Errorf("knowledge base %s: store kind %q is not %q (written by a newer ragtune?)", cfg.Name, rc.Kind, StoreWeaviate)}
	}
	w, err := newWeaviate(rc.weaviateConfig(cfg.BM25))
	if err != nil {
		return nil, &Error{Public: "the knowledge base's Weaviate settings are invalid (details are in the server log)", Err: fmt.Errorf("knowledge base %s: %w", cfg.Name, err)}
	}
	return w, nil
}

// createRemote creates the collection of a new knowledge base stored in
// Weaviate, before its kb.json is written: a knowledge base never names a
// collection that could not be created.
func createRemote(ctx context.Context, cfg StoreConfig) error {
	if cfg.Store == nil {
		return nil
	}
	if !className.MatchString(cfg.Store.Class) {
		return fmt.Errorf("weaviate class %q must start with an upper-case letter and hold only letters, digits and _", cfg.Store.Class)
	}
	w, err := openRemote(cfg)
	if err != nil {
		return err
	}
	return w.ensureClass(ctx)
}

// NumChunks is how many chunks the document has (its Chunks, or for a
// knowledge base stored in Weaviate, the count its record keeps).
func (d *DocRecord) NumChunks() int {
	if len(d.Chunks) > 0 {
		return len(d.Chunks)
	}
	return d.ChunkCount
}

// pushRemote writes a commit's changes to the remote store and returns
// the records to log locally: documents without chunks and vectors, their
// counts kept.
func (s *Store) pushRemote(ctx context.Context, recs []*walRecord) ([]*walRecord, error) {
	var docs []*DocRecord
	out := make([]*walRecord, len(recs))
	for i, rec := range recs {
		if rec.Doc == nil {
			if err := s.remote.DeleteSource(ctx, rec.Path); err != nil {
				return nil, storeError(err)
			}
			out[i] = rec
			continue
		}
		d := rec.Doc
		docs = append(docs, d)
		slim := *d
		slim.Chunks, slim.Vectors = nil, nil
		// The title may be a slice of the whole extracted text; the record
		// outlives the text, so it gets a copy of its own.
		slim.Title = strings.Clone(d.Title)
		slim.ChunkCount = len(d.Chunks)
		for _, c := range d.Chunks {
			slim.Chars += int64(c.CharEnd - c.CharStart)
		}
		out[i] = &walRecord{Path: rec.Path, Delete: rec.Delete, Doc: &slim}
	}
	if len(docs) > 0 {
		if err := s.remote.PutDocs(ctx, docs); err != nil {
			return nil, storeError(err)
		}
	}
	return out, nil
}

// remoteTimeout bounds the remote writes of one commit, which has no
// caller's context (a batch of up to 4096 chunks).
const remoteTimeout = 10 * time.Minute

// searchRemote is Search for a knowledge base stored in Weaviate: the
// query is embedded here (dense and hybrid), ranked there, and the
// reranker, when set, reorders the candidates from their stored text.
func (s *Store) searchRemote(ctx context.Context, q Query) ([]Result, error) {
	bq := BackendQuery{Text: q.Text, K: q.K, Mode: q.Mode, Filter: q.Filter, Fusion: q.Fusion}
	if bq.Fusion == "" {
		bq.Fusion = FusionRRF // as the embedded store's hybrid default
	}
	if q.Mode != ModeBM25 {
		if s.cfg.Embedding == nil || s.embed == nil {
			return nil, fmt.Errorf("%s retrieval: this knowledge base has no vectors (ingest it with an embedder: --embed-path for a local BERT/bge model, --embed-url for a server): %w", q.Mode, ErrNoVectors)
		}
		vecs, err := s.embed(asQuery(ctx), []string{q.Text})
		if err != nil {
			return nil, fmt.Errorf("embed query: %w", err)
		}
		if len(vecs) != 1 {
			return nil, fmt.Errorf("embed query: %d vectors for 1 text", len(vecs))
		}
		bq.Vector = vecs[0]
	}
	if q.Rerank != nil {
		bq.K = max(50, 5*q.K) // as Retriever's default depth
	}
	res, err := s.remote.search(ctx, bq)
	if err != nil {
		return nil, err
	}
	if q.Rerank == nil || len(res) == 0 {
		return res, nil
	}
	hits := make([]index.Hit, len(res))
	byID := make(map[string]Result, len(res))
	texts := make(map[string]string, len(res))
	for i, r := range res {
		hits[i] = index.Hit{ID: r.ID, Score: r.Score}
		byID[r.ID] = r
		texts[r.ID] = r.Chunk.ContextText()
	}
	ranked, err := q.Rerank(context.WithValue(ctx, candidateTextsKey{}, texts), q.Text, hits)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	out := make([]Result, 0, min(q.K, len(ranked)))
	for _, h := range ranked[:min(q.K, len(ranked))] {
		r := byID[h.ID]
		r.Score = h.Score
		out = append(out, r)
	}
	return out, nil
}

// candidateTextsKey carries, in a rerank's context, the candidates' texts
// as a remote store returned them (chunk ID → context text), since such a
// knowledge base keeps no local copy for StoreReranker to read.
type candidateTextsKey struct{}

// candidateText looks id up among the texts ctx carries.
func candidateText(ctx context.Context, id string) (string, bool) {
	m, _ := ctx.Value(candidateTextsKey{}).(map[string]string)
	t, ok := m[id]
	return t, ok
}

// Chunk returns chunk i of the document at path: from the local record,
// or for a knowledge base stored in Weaviate, from there. n is the
// document's chunk count; ok is false when there is no such chunk.
func (s *Store) Chunk(ctx context.Context, path string, i int) (c Chunk, n int, ok bool, err error) {
	d, found := s.Doc(path)
	if !found || i < 0 || i >= d.NumChunks() {
		return Chunk{}, 0, false, nil
	}
	if i < len(d.Chunks) {
		return d.Chunks[i], len(d.Chunks), true, nil
	}
	if s.remote == nil {
		return Chunk{}, 0, false, nil
	}
	c, ok, err = s.remote.chunkByID(ctx, chunkID(path, i))
	return c, d.NumChunks(), ok, err
}

// RemoteCount asks the remote store how many chunks it holds for this
// knowledge base (ok false for an embedded one).
func (s *Store) RemoteCount(ctx context.Context) (n int, ok bool, err error) {
	if s.remote == nil {
		return 0, false, nil
	}
	n, err = s.remote.Count(ctx)
	return n, true, err
}

// DropRemote deletes the remote collection of a knowledge base stored in
// Weaviate (nothing for an embedded one); deleting the knowledge base's
// directory is the caller's part.
func (s *Store) DropRemote(ctx context.Context) error {
	if s.remote == nil {
		return nil
	}
	return s.remote.Drop(ctx)
}

// DropRemoteOf deletes the Weaviate collection of the knowledge base in
// dir, if it has one, without opening the knowledge base (whose directory
// a server may already have moved aside for deletion).
func DropRemoteOf(ctx context.Context, dir string) error {
	cfg, err := ReadStoreConfig(dir)
	if err != nil || cfg.Store == nil {
		return err
	}
	w, err := openRemote(cfg)
	if err != nil {
		return err
	}
	if err := w.Drop(ctx); err != nil {
		return &Error{Public: "the knowledge base's Weaviate collection could not be deleted (details are in the server log)", Err: err}
	}
	return nil
}
