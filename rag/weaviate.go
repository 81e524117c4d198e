package rag

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"

	"ragtune/index"
)

// ChunkBackend is a retrieval store that ranks chunks itself, lexically
// and by vector: the scale-out counterpart of the embedded Store's
// indexes. Chunks carry their own vectors (computed by our Embedder), so
// the backend never embeds; queries give the query vector for dense and
// hybrid modes. Weaviate implements it.
type ChunkBackend interface {
	// PutChunks inserts or replaces chunks by ID.
	PutChunks(ctx context.Context, chunks []IndexedChunk) error
	// DeleteSource removes every chunk whose MetaSource is source.
	DeleteSource(ctx context.Context, source string) error
	// SearchChunks returns the best chunks for q, best first.
	SearchChunks(ctx context.Context, q BackendQuery) ([]index.Hit, error)
}

// IndexedChunk is one chunk as a backend stores it.
type IndexedChunk struct {
	ID     string            // as in the embedded store: "path#index"
	Text   string            // the text BM25 sees (Chunk.ContextText)
	Meta   map[string]string // MetaSource and MetaTitle are stored
	Vector []float32         // nil for a lexical-only knowledge base
	// Chunk, when set, is stored whole (its text, headings and spans), so
	// a search returns it without a local copy.
	Chunk *Chunk
}

// BackendQuery is one backend search.
type BackendQuery struct {
	Text   string
	Vector []float32 // required for ModeDense and ModeHybrid
	K      int       // default 5
	Mode   Mode      // default ModeBM25
	// DenseWeight is hybrid mode's weight of the vector side (Weaviate's
	// alpha); 0 means 0.5.
	DenseWeight float64
	Fusion      Fusion // hybrid only: FusionRelative (default) or FusionRRF
	// Filter sees each hit's metadata; the backend cannot run a Go
	// function, so hits are filtered after retrieval from a deeper list.
	Filter index.Filter
}

// WeaviateConfig says where a knowledge base lives in Weaviate.
type WeaviateConfig struct {
	URL    string // http://host:port
	Class  string // collection name, starting with an upper-case letter
	APIKey string // empty for anonymous access
	// Timeout bounds each request made without a caller's context (the
	// VectorIndex methods); default 30 s.
	Timeout time.Duration
	// Replication is the collection's replication factor when this call
	// creates it (0: 1); an existing collection keeps its own.
	Replication int
	// Consistency is the level of every read and write: "ONE", "QUORUM"
	// or "ALL"; empty means QUORUM (see DefaultConsistency).
	Consistency string
	// BM25 sets the collection's k1 and b when this call creates it (zero:
	// Weaviate's defaults), so a Weaviate knowledge base ranks with the
	// same parameters as an embedded one.
	BM25 index.BM25Params
}

// DefaultConsistency is the consistency level of reads and writes. With
// QUORUM on both sides a write is acknowledged only once a majority of the
// replicas hold it, and a read consults a majority, so every read overlaps
// every acknowledged write (R + W > N): with replication 3 one node may be
// down without losing an acknowledged chunk or failing a query. ONE would
// let a write be acknowledged by a node that then dies before the others
// have it; ALL would stop every write while any replica is down. With
// replication 1 all three levels are the same.
const DefaultConsistency = "QUORUM"

// Weaviate stores chunks in a Weaviate collection through the official
// client: Han text in a property tokenized with "gse_ch" (gse with its
// Chinese dictionary, so Weaviate's BM25 segments Chinese; the server
// needs ENABLE_TOKENIZER_GSE_CH=true; plain "gse" loads gse's Japanese
// dictionary), the whole text in a word-tokenized one, our
// vectors as the objects' vectors (vectorizer "none", cosine distance).
// Object UUIDs are derived from chunk IDs, so re-putting a chunk replaces
// it. It implements ChunkBackend and VectorIndex, so a Retriever can use
// it as its dense index.
type Weaviate struct {
	clients []*weaviate.Client // one per node URL
	cur     atomic.Int32       // the node requests go to; moves on when one fails
	cfg     WeaviateConfig
	dim     int
	timeout time.Duration
	cl      string // consistency level
}

var _ ChunkBackend = (*Weaviate)(nil)
var _ VectorIndex = (*Weaviate)(nil)

var className = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`)

// Weaviate property names. text is what BM25 sees (the chunk's context
// text); the others give a hit back as the Chunk the embedded store would
// return, so a client keeps no copy of the chunks.
const (
	wvText      = "text"  // the text's Han runs, tokenized by gse_ch
	wvWords     = "words" // the whole text tokenized as lower-cased words: BM25 for other scripts
	wvChunkID   = "chunkId"
	wvSource    = "source"
	wvTitle     = "title"
	wvBody      = "body"     // Chunk.Text
	wvHeadings  = "headings" // Chunk.Headings
	wvIndex     = "chunkIndex"
	wvByteStart = "byteStart"
	wvByteEnd   = "byteEnd"
	wvCharStart = "charStart"
	wvCharEnd   = "charEnd"
)

// OpenWeaviate connects to the server and creates the collection when it
// does not exist yet.
func OpenWeaviate(ctx context.Context, cfg WeaviateConfig) (*Weaviate, error) {
	w, err := newWeaviate(cfg)
	if err != nil {
		return nil, err
	}
	if err := w.ensureClass(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// newWeaviate makes a handle without contacting the server, so a
// knowledge base whose server is down still opens (its local record
// answers stats and listings; searches then fail with the reason).
func newWeaviate(cfg WeaviateConfig) (*Weaviate, error) {
	if !className.MatchString(cfg.Class) {
		return nil, fmt.Errorf("weaviate: class name %q must start with an upper-case letter and hold only letters, digits and _", cfg.Class)
	}
	w := &Weaviate{cfg: cfg, timeout: cfg.Timeout, cl: strings.ToUpper(cfg.Consistency)}
	for _, raw := range strings.Split(cfg.URL, ",") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("weaviate: URL %q is not http(s)://host:port (several nodes: comma-separated)", raw)
		}
		// The key goes as a bearer header rather than the client's
		// AuthConfig, which would contact the server here already.
		wc := weaviate.Config{Host: u.Host, Scheme: u.Scheme}
		if cfg.APIKey != "" {
			wc.Headers = map[string]string{"Authorization": "Bearer " + cfg.APIKey}
		}
		client, err := weaviate.NewClient(wc)
		if err != nil {
			return nil, fmt.Errorf("weaviate at %s: %w", raw, err)
		}
		w.clients = append(w.clients, client)
	}
	if w.timeout <= 0 {
		w.timeout = 30 * time.Second
	}
	switch w.cl {
	case "":
		w.cl = DefaultConsistency
	case "ONE", "QUORUM", "ALL":
	default:
		return nil, fmt.Errorf("weaviate: consistency level %q is not ONE, QUORUM or ALL", cfg.Consistency)
	}
	return w, nil
}

// ensureClass creates the collection unless it exists.
func (w *Weaviate) ensureClass(ctx context.Context) error {
	cfg := w.cfg
	exists, err := w.client().Schema().ClassExistenceChecker().WithClassName(cfg.Class).Do(ctx)
	if err != nil {
		return fmt.Errorf("weaviate at %s: check class %s: %w (is the server running? start it as the guide's \"Beyond one machine\" section shows)", cfg.URL, cfg.Class, err)
	}
	if exists {
		return nil
	}
	no := false
	meta := func(name, typ string) *models.Property {
		p := &models.Property{Name: name, DataType: []string{typ}, IndexSearchable: &no}
		if typ == "text" || typ == "text[]" {
			p.Tokenization = models.PropertyTokenizationField
		}
		return p
	}
	class := &models.Class{
		Class:             cfg.Class,
		Description:       "ragtune knowledge-base chunks",
		Vectorizer:        "none",
		VectorIndexConfig: map[string]any{"distance": "cosine"},
		Properties: []*models.Property{
			{Name: wvText, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationGseCh},
			{Name: wvWords, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationWord},
			meta(wvChunkID, "text"), meta(wvSource, "text"), meta(wvTitle, "text"),
			meta(wvBody, "text"), meta(wvHeadings, "text[]"),
			meta(wvIndex, "int"), meta(wvByteStart, "int"), meta(wvByteEnd, "int"), meta(wvCharStart, "int"), meta(wvCharEnd, "int"),
		},
	}
	if cfg.BM25.K1 > 0 || cfg.BM25.B > 0 {
		class.InvertedIndexConfig = &models.InvertedIndexConfig{Bm25: &models.BM25Config{K1: float32(cfg.BM25.K1), B: float32(cfg.BM25.B)}}
	}
	if cfg.Replication > 1 {
		// Async replication repairs, in the background, what a replica
		// missed while it was down; QUORUM reads cover the meantime.
		class.ReplicationConfig = &models.ReplicationConfig{Factor: int64(cfg.Replication), AsyncEnabled: true}
	}
	if err := w.client().Schema().ClassCreator().WithClass(class).Do(ctx); err != nil {
		return fmt.Errorf("weaviate at %s: create class %s: %w (the gse_ch tokenizer needs ENABLE_TOKENIZER_GSE_CH=true on the server; replication %d needs that many nodes)", cfg.URL, cfg.Class, err, max(cfg.Replication, 1))
	}
	return nil
}

// Drop deletes the collection and every chunk in it.
func (w *Weaviate) Drop(ctx context.Context) error {
	exists, err := w.client().Schema().ClassExistenceChecker().WithClassName(w.cfg.Class).Do(ctx)
	if err != nil {
		return fmt.Errorf("weaviate at %s: check class %s: %w", w.cfg.URL, w.cfg.Class, err)
	}
	if !exists {
		return nil
	}
	if err := w.client().Schema().ClassDeleter().WithClassName(w.cfg.Class).Do(ctx); err != nil {
		return fmt.Errorf("weaviate at %s: delete class %s: %w", w.cfg.URL, w.cfg.Class, err)
	}
	return nil
}

// objectID maps a chunk ID to a stable name-based (version 5 style) UUID.
func objectID(class, id string) strfmt.UUID {
	h := sha1.Sum([]byte("ragtune/" + class + "/" + id))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return strfmt.UUID(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

// weaviateBatch bounds objects per batch request.
const weaviateBatch = 200

// PutChunks implements ChunkBackend. Each batch request waits for the
// consistency level's acknowledgements; a request that fails as a whole
// (a connection reset, a coordinator timing out on a replica that just
// died) is retried a few times, which is safe because objects are keyed
// by chunk ID.
func (w *Weaviate) PutChunks(ctx context.Context, chunks []IndexedChunk) error {
	for start := 0; start < len(chunks); start += weaviateBatch {
		part := chunks[start:min(start+weaviateBatch, len(chunks))]
		objs := make([]*models.Object, len(part))
		for i, c := range part {
			if w.dim == 0 {
				w.dim = len(c.Vector)
			}
			if len(c.Vector) != w.dim {
				return fmt.Errorf("weaviate: chunk %s has a %d-d vector, others are %d-d", c.ID, len(c.Vector), w.dim)
			}
			props := map[string]any{wvText: hanRuns(c.Text), wvWords: c.Text, wvChunkID: c.ID, wvSource: c.Meta[MetaSource], wvTitle: c.Meta[MetaTitle]}
			if ch := c.Chunk; ch != nil {
				props[wvBody], props[wvIndex] = ch.Text, ch.Index
				props[wvByteStart], props[wvByteEnd], props[wvCharStart], props[wvCharEnd] = ch.ByteStart, ch.ByteEnd, ch.CharStart, ch.CharEnd
				if len(ch.Headings) > 0 {
					props[wvHeadings] = ch.Headings
				}
			} else if n, ok := chunkIndexOf(c.ID); ok {
				props[wvIndex] = n
			}
			objs[i] = &models.Object{Class: w.cfg.Class, ID: objectID(w.cfg.Class, c.ID), Properties: props}
			if len(c.Vector) > 0 {
				objs[i].Vector = models.C11yVector(c.Vector)
			}
		}
		var resp []models.ObjectsGetResponse
		err := w.retry(ctx, func(c *weaviate.Client) error {
			var err error
			resp, err = c.Batch().ObjectsBatcher().WithObjects(objs...).WithConsistencyLevel(w.cl).Do(ctx)
			return err
		})
		if err != nil {
			return fmt.Errorf("weaviate at %s: batch import: %w", w.cfg.URL, err)
		}
		for i, r := range resp {
			if r.Result != nil && r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
				return fmt.Errorf("weaviate at %s: import chunk %s: %s", w.cfg.URL, part[i].ID, r.Result.Errors.Error[0].Message)
			}
		}
	}
	return nil
}

// client is the client of the node requests go to now.
func (w *Weaviate) client() *weaviate.Client {
	return w.clients[int(w.cur.Load())%len(w.clients)]
}

// retry runs op, and after a failure runs it again on the next node (when
// several are configured), up to four times in all, backing off, while
// ctx allows.
func (w *Weaviate) retry(ctx context.Context, op func(c *weaviate.Client) error) error {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			if len(w.clients) > 1 {
				w.cur.Add(1)
			}
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
			}
		}
		if err = op(w.client()); err == nil {
			return nil
		}
	}
	return err
}

// hanRuns keeps the Han characters of s (and the punctuation that
// separates Chinese sentences), blanking everything else. Weaviate's gse
// tokenizers cut Latin words into fragments that match unrelated words,
// so other scripts are left to the word-tokenized property; the embedded
// analyzer likewise segments only Chinese with gse.
func hanRuns(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || strings.ContainsRune("，。！？；：、", r) {
			return r
		}
		return ' '
	}, s)
}

// chunkIndexOf reads the index from a "path#index" chunk ID.
func chunkIndexOf(id string) (int, bool) {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	return n, err == nil && n >= 0
}

// indexedChunks is d's chunks as a backend stores them.
func indexedChunks(d *DocRecord) []IndexedChunk {
	chunks := make([]IndexedChunk, len(d.Chunks))
	for i := range d.Chunks {
		c := &d.Chunks[i]
		chunks[i] = IndexedChunk{ID: chunkID(d.Path, c.Index), Text: c.ContextText(), Meta: map[string]string{MetaSource: d.Path, MetaTitle: d.Title}, Chunk: c}
		if len(d.Vectors) == len(d.Chunks) {
			chunks[i].Vector = d.Vectors[i]
		}
	}
	return chunks
}

// PutDocs writes documents: their current chunks are imported (replacing
// chunks of the same ID), then every chunk of theirs beyond the current
// count is deleted, in one request for all of them. Putting before
// deleting keeps a re-ingested document searchable throughout; the delete
// also clears what an earlier run that crashed before committing left.
func (w *Weaviate) PutDocs(ctx context.Context, docs []*DocRecord) error {
	var chunks []IndexedChunk
	for _, d := range docs {
		chunks = append(chunks, indexedChunks(d)...)
		if len(chunks) >= weaviateBatch {
			if err := w.PutChunks(ctx, chunks); err != nil {
				return err
			}
			chunks = chunks[:0]
		}
	}
	if err := w.PutChunks(ctx, chunks); err != nil {
		return err
	}
	for start := 0; start < len(docs); start += staleDeleteDocs {
		part := docs[start:min(start+staleDeleteDocs, len(docs))]
		stale := make([]*filters.WhereBuilder, len(part))
		for i, d := range part {
			stale[i] = filters.Where().WithOperator(filters.And).WithOperands([]*filters.WhereBuilder{
				filters.Where().WithPath([]string{wvSource}).WithOperator(filters.Equal).WithValueText(d.Path),
				filters.Where().WithPath([]string{wvIndex}).WithOperator(filters.GreaterThanEqual).WithValueInt(int64(len(d.Chunks))),
			})
		}
		where := stale[0]
		if len(stale) > 1 {
			where = filters.Where().WithOperator(filters.Or).WithOperands(stale)
		}
		if err := w.deleteWhere(ctx, where); err != nil {
			return fmt.Errorf("weaviate at %s: delete stale chunks of %s: %w", w.cfg.URL, part[0].Path, err)
		}
	}
	return nil
}

// staleDeleteDocs bounds the documents one stale-chunk delete names.
const staleDeleteDocs = 64

// PutDoc writes one document (see PutDocs).
func (w *Weaviate) PutDoc(ctx context.Context, d *DocRecord) error {
	return w.PutDocs(ctx, []*DocRecord{d})
}

// deleteWhere deletes the matching objects, at the consistency level.
func (w *Weaviate) deleteWhere(ctx context.Context, where *filters.WhereBuilder) error {
	return w.retry(ctx, func(c *weaviate.Client) error {
		resp, err := c.Batch().ObjectsBatchDeleter().WithClassName(w.cfg.Class).WithWhere(where).
			WithConsistencyLevel(w.cl).WithOutput("minimal").Do(ctx)
		if err != nil {
			return err
		}
		if resp != nil && resp.Results != nil && resp.Results.Failed > 0 {
			return fmt.Errorf("%d of %d objects not deleted", resp.Results.Failed, resp.Results.Matches)
		}
		return nil
	})
}

// DeleteSource implements ChunkBackend.
func (w *Weaviate) DeleteSource(ctx context.Context, source string) error {
	where := filters.Where().WithPath([]string{wvSource}).WithOperator(filters.Equal).WithValueText(source)
	if err := w.deleteWhere(ctx, where); err != nil {
		return fmt.Errorf("weaviate at %s: delete chunks of %s: %w", w.cfg.URL, source, err)
	}
	return nil
}

// SearchChunks implements ChunkBackend with Weaviate's bm25, nearVector
// and hybrid queries. Scores are Weaviate's: BM25 scores, cosine
// similarity (1 - distance) for dense, fused scores for hybrid.
func (w *Weaviate) SearchChunks(ctx context.Context, q BackendQuery) ([]index.Hit, error) {
	res, err := w.search(ctx, q)
	if err != nil {
		return nil, err
	}
	hits := make([]index.Hit, len(res))
	for i, r := range res {
		hits[i] = index.Hit{ID: r.ID, Score: r.Score, Meta: map[string]string{MetaSource: r.Chunk.Source, MetaTitle: r.Chunk.Title}}
	}
	return hits, nil
}

// search runs q and returns the hits with their chunks as stored.
func (w *Weaviate) search(ctx context.Context, q BackendQuery) ([]Result, error) {
	k := q.K
	if k <= 0 {
		k = 5
	}
	limit := k
	if q.Filter != nil {
		limit = max(10*k, 100)
	}
	fields := []graphql.Field{{Name: wvChunkID}, {Name: wvSource}, {Name: wvTitle}, {Name: wvBody}, {Name: wvHeadings},
		{Name: wvIndex}, {Name: wvByteStart}, {Name: wvByteEnd}, {Name: wvCharStart}, {Name: wvCharEnd},
		{Name: "_additional", Fields: []graphql.Field{{Name: "score"}, {Name: "distance"}}}}
	// The search argument is built once; the request itself is built per
	// node, since a builder is bound to its client's connection.
	var with func(*graphql.GetBuilder) *graphql.GetBuilder
	gq := w.client().GraphQL()
	switch q.Mode {
	case ModeBM25, "":
		arg := gq.Bm25ArgBuilder().WithQuery(q.Text).WithProperties(wvText, wvWords)
		with = func(g *graphql.GetBuilder) *graphql.GetBuilder { return g.WithBM25(arg) }
	case ModeDense:
		if len(q.Vector) == 0 {
			return nil, fmt.Errorf("weaviate dense search: %w", ErrNoVectors)
		}
		arg := gq.NearVectorArgBuilder().WithVector(q.Vector)
		with = func(g *graphql.GetBuilder) *graphql.GetBuilder { return g.WithNearVector(arg) }
	case ModeHybrid:
		if len(q.Vector) == 0 {
			return nil, fmt.Errorf("weaviate hybrid search: %w", ErrNoVectors)
		}
		alpha := q.DenseWeight
		if alpha <= 0 {
			alpha = 0.5
		}
		fusion := graphql.RelativeScore
		if q.Fusion == FusionRRF {
			fusion = graphql.Ranked
		}
		arg := gq.HybridArgumentBuilder().WithQuery(q.Text).WithVector(q.Vector).
			WithAlpha(float32(alpha)).WithFusionType(fusion).WithProperties([]string{wvText, wvWords})
		with = func(g *graphql.GetBuilder) *graphql.GetBuilder { return g.WithHybrid(arg) }
	default:
		return nil, fmt.Errorf("unknown retrieval mode %q", q.Mode)
	}
	var resp *models.GraphQLResponse
	err := w.retry(ctx, func(c *weaviate.Client) error {
		var err error
		resp, err = w.readLevel(with(c.GraphQL().Get().WithClassName(w.cfg.Class).WithFields(fields...).WithLimit(limit))).Do(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("weaviate at %s: %s search: %w", w.cfg.URL, q.Mode, err)
	}
	if len(resp.Errors) > 0 {
		msgs := make([]string, len(resp.Errors))
		for i, e := range resp.Errors {
			msgs[i] = e.Message
		}
		return nil, fmt.Errorf("weaviate at %s: %s search: %s", w.cfg.URL, q.Mode, strings.Join(msgs, "; "))
	}
	res, err := parseHits(resp.Data, w.cfg.Class, q.Mode == ModeDense)
	if err != nil {
		return nil, fmt.Errorf("weaviate %s search: %w", q.Mode, err)
	}
	if q.Filter != nil {
		kept := res[:0]
		for _, r := range res {
			if q.Filter(map[string]string{MetaSource: r.Chunk.Source, MetaTitle: r.Chunk.Title}) {
				kept = append(kept, r)
			}
		}
		res = kept
	}
	return res[:min(k, len(res))], nil
}

// parseHits reads Get{Class{chunkId source ... _additional{score
// distance}}} from a GraphQL response.
func parseHits(data map[string]models.JSONObject, class string, byDistance bool) ([]Result, error) {
	get, _ := data["Get"].(map[string]any)
	rows, ok := get[class].([]any)
	if !ok {
		if get != nil && get[class] == nil {
			return nil, nil
		}
		return nil, errors.New("response has no Get." + class + " list")
	}
	out := make([]Result, 0, len(rows))
	for _, r := range rows {
		obj, _ := r.(map[string]any)
		id, _ := obj[wvChunkID].(string)
		c := Chunk{}
		c.Source, _ = obj[wvSource].(string)
		c.Title, _ = obj[wvTitle].(string)
		c.Text, _ = obj[wvBody].(string)
		if hs, ok := obj[wvHeadings].([]any); ok {
			for _, h := range hs {
				if s, ok := h.(string); ok {
					c.Headings = append(c.Headings, s)
				}
			}
		}
		for name, dst := range map[string]*int{wvIndex: &c.Index, wvByteStart: &c.ByteStart, wvByteEnd: &c.ByteEnd, wvCharStart: &c.CharStart, wvCharEnd: &c.CharEnd} {
			if v, err := number(obj[name]); err == nil {
				*dst = int(v)
			}
		}
		add, _ := obj["_additional"].(map[string]any)
		var score float64
		if add == nil {
			// a plain Get (chunkByID): no score asked for
		} else if byDistance {
			d, err := number(add["distance"])
			if err != nil {
				return nil, fmt.Errorf("chunk %s: distance: %w", id, err)
			}
			score = 1 - d
		} else {
			s, err := number(add["score"])
			if err != nil {
				return nil, fmt.Errorf("chunk %s: score: %w", id, err)
			}
			score = s
		}
		out = append(out, Result{ID: id, Score: score, Chunk: c})
	}
	return out, nil
}

// readLevel sets a query's consistency level. Weaviate's GraphQL schema
// has the argument only on replicated collections (and rejects it on
// others, where every level would mean ONE anyway).
func (w *Weaviate) readLevel(g *graphql.GetBuilder) *graphql.GetBuilder {
	if w.cfg.Replication > 1 {
		return g.WithConsistencyLevel(w.cl)
	}
	return g
}

// chunkByID fetches one stored chunk by its chunk ID.
func (w *Weaviate) chunkByID(ctx context.Context, id string) (Chunk, bool, error) {
	fields := []graphql.Field{{Name: wvChunkID}, {Name: wvSource}, {Name: wvTitle}, {Name: wvBody}, {Name: wvHeadings},
		{Name: wvIndex}, {Name: wvByteStart}, {Name: wvByteEnd}, {Name: wvCharStart}, {Name: wvCharEnd}}
	where := filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(string(objectID(w.cfg.Class, id)))
	var resp *models.GraphQLResponse
	err := w.retry(ctx, func(c *weaviate.Client) error {
		var err error
		resp, err = w.readLevel(c.GraphQL().Get().WithClassName(w.cfg.Class).WithFields(fields...).WithWhere(where).WithLimit(1)).Do(ctx)
		return err
	})
	if err == nil && len(resp.Errors) > 0 {
		err = errors.New(resp.Errors[0].Message)
	}
	if err != nil {
		return Chunk{}, false, fmt.Errorf("weaviate at %s: get chunk %s: %w", w.cfg.URL, id, err)
	}
	res, err := parseHits(resp.Data, w.cfg.Class, false)
	if err != nil || len(res) == 0 {
		return Chunk{}, false, err
	}
	return res[0].Chunk, true, nil
}

// number reads a GraphQL number, which Weaviate sends as a JSON number
// (distance) or a string (score).
func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case json.Number:
		return x.Float64()
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("%v (%T) is not a number", v, v)
}

func (w *Weaviate) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), w.timeout)
}

// Add implements VectorIndex: the chunk is stored with an empty text, so
// it is found by vector only; ingest through PutChunks or PutDoc to get
// BM25 and hybrid search too.
func (w *Weaviate) Add(id string, vec []float32, meta map[string]string) error {
	ctx, cancel := w.ctx()
	defer cancel()
	return w.PutChunks(ctx, []IndexedChunk{{ID: id, Meta: meta, Vector: vec}})
}

// Delete implements VectorIndex.
func (w *Weaviate) Delete(id string) bool {
	ctx, cancel := w.ctx()
	defer cancel()
	err := w.client().Data().Deleter().WithClassName(w.cfg.Class).WithID(string(objectID(w.cfg.Class, id))).WithConsistencyLevel(w.cl).Do(ctx)
	return err == nil
}

// Search implements VectorIndex (nearVector).
func (w *Weaviate) Search(query []float32, k int, filter index.Filter) ([]index.Hit, error) {
	ctx, cancel := w.ctx()
	defer cancel()
	return w.SearchChunks(ctx, BackendQuery{Vector: query, K: k, Mode: ModeDense, Filter: filter})
}

// Len implements VectorIndex: the collection's object count, or -1 when
// the server cannot be asked.
func (w *Weaviate) Len() int {
	ctx, cancel := w.ctx()
	defer cancel()
	n, err := w.Count(ctx)
	if err != nil {
		return -1
	}
	return n
}

// Count returns the collection's object count.
func (w *Weaviate) Count(ctx context.Context) (int, error) {
	resp, err := w.client().GraphQL().Aggregate().WithClassName(w.cfg.Class).
		WithFields(graphql.Field{Name: "meta", Fields: []graphql.Field{{Name: "count"}}}).Do(ctx)
	if err != nil {
		return 0, fmt.Errorf("weaviate at %s: count %s: %w", w.cfg.URL, w.cfg.Class, err)
	}
	if len(resp.Errors) > 0 {
		return 0, fmt.Errorf("weaviate at %s: count %s: %s", w.cfg.URL, w.cfg.Class, resp.Errors[0].Message)
	}
	agg, _ := resp.Data["Aggregate"].(map[string]any)
	rows, _ := agg[w.cfg.Class].([]any)
	if len(rows) == 0 {
		return 0, nil
	}
	row, _ := rows[0].(map[string]any)
	meta, _ := row["meta"].(map[string]any)
	n, err := number(meta["count"])
	if err != nil {
		return 0, fmt.Errorf("weaviate at %s: count %s: %w", w.cfg.URL, w.cfg.Class, err)
	}
	return int(n), nil
}

// Dim implements VectorIndex: the size of the vectors put through this
// handle (0 before the first).
func (w *Weaviate) Dim() int { return w.dim }

// Save implements VectorIndex. Weaviate persists the vectors itself, so
// only where they live is written.
func (w *Weaviate) Save(out io.Writer) error {
	return json.NewEncoder(out).Encode(map[string]string{"weaviate": w.cfg.URL, "class": w.cfg.Class})
}
