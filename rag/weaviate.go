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
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/auth"
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
}

// Weaviate stores chunks in a Weaviate collection through the official
// client: text in a property tokenized with "gse" (so Weaviate's BM25
// segments Chinese; the server needs ENABLE_TOKENIZER_GSE=true), our
// vectors as the objects' vectors (vectorizer "none", cosine distance).
// Object UUIDs are derived from chunk IDs, so re-putting a chunk replaces
// it. It implements ChunkBackend and VectorIndex, so a Retriever can use
// it as its dense index.
type Weaviate struct {
	client  *weaviate.Client
	cfg     WeaviateConfig
	dim     int
	timeout time.Duration
}

var _ ChunkBackend = (*Weaviate)(nil)
var _ VectorIndex = (*Weaviate)(nil)

var className = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`)

// Weaviate property names.
const (
	wvText    = "text"
	wvChunkID = "chunkId"
	wvSource  = "source"
	wvTitle   = "title"
)

// OpenWeaviate connects to the server and creates the collection when it
// does not exist yet.
func OpenWeaviate(ctx context.Context, cfg WeaviateConfig) (*Weaviate, error) {
	if !className.MatchString(cfg.Class) {
		return nil, fmt.Errorf("weaviate: class name %q must start with an upper-case letter and hold only letters, digits and _", cfg.Class)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("weaviate: URL %q is not http(s)://host:port", cfg.URL)
	}
	wc := weaviate.Config{Host: u.Host, Scheme: u.Scheme, StartupTimeout: 5 * time.Second}
	if cfg.APIKey != "" {
		wc.AuthConfig = auth.ApiKey{Value: cfg.APIKey}
	}
	client, err := weaviate.NewClient(wc)
	if err != nil {
		return nil, fmt.Errorf("weaviate at %s: %w (is the server running?)", cfg.URL, err)
	}
	w := &Weaviate{client: client, cfg: cfg, timeout: cfg.Timeout}
	if w.timeout <= 0 {
		w.timeout = 30 * time.Second
	}
	exists, err := client.Schema().ClassExistenceChecker().WithClassName(cfg.Class).Do(ctx)
	if err != nil {
		return nil, fmt.Errorf("weaviate at %s: check class %s: %w", cfg.URL, cfg.Class, err)
	}
	if !exists {
		no := false
		class := &models.Class{
			Class:             cfg.Class,
			Description:       "ragtune knowledge-base chunks",
			Vectorizer:        "none",
			VectorIndexConfig: map[string]any{"distance": "cosine"},
			Properties: []*models.Property{
				{Name: wvText, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationGse},
				{Name: wvChunkID, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationField, IndexSearchable: &no},
				{Name: wvSource, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationField, IndexSearchable: &no},
				{Name: wvTitle, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationField, IndexSearchable: &no},
			},
		}
		if err := client.Schema().ClassCreator().WithClass(class).Do(ctx); err != nil {
			return nil, fmt.Errorf("weaviate at %s: create class %s: %w (gse tokenization needs ENABLE_TOKENIZER_GSE=true on the server)", cfg.URL, cfg.Class, err)
		}
	}
	return w, nil
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

// PutChunks implements ChunkBackend.
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
			objs[i] = &models.Object{
				Class: w.cfg.Class,
				ID:    objectID(w.cfg.Class, c.ID),
				Properties: map[string]any{
					wvText: c.Text, wvChunkID: c.ID, wvSource: c.Meta[MetaSource], wvTitle: c.Meta[MetaTitle],
				},
			}
			if len(c.Vector) > 0 {
				objs[i].Vector = models.C11yVector(c.Vector)
			}
		}
		resp, err := w.client.Batch().ObjectsBatcher().WithObjects(objs...).Do(ctx)
		if err != nil {
			return fmt.Errorf("weaviate: batch import: %w", err)
		}
		for i, r := range resp {
			if r.Result != nil && r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
				return fmt.Errorf("weaviate: import chunk %s: %s", part[i].ID, r.Result.Errors.Error[0].Message)
			}
		}
	}
	return nil
}

// PutDoc mirrors one document of the embedded store: its old chunks are
// deleted, its current chunks (with their vectors) imported.
func (w *Weaviate) PutDoc(ctx context.Context, d *DocRecord) error {
	if err := w.DeleteSource(ctx, d.Path); err != nil {
		return err
	}
	chunks := make([]IndexedChunk, len(d.Chunks))
	for i, c := range d.Chunks {
		chunks[i] = IndexedChunk{ID: chunkID(d.Path, c.Index), Text: c.ContextText(), Meta: map[string]string{MetaSource: d.Path, MetaTitle: d.Title}}
		if len(d.Vectors) == len(d.Chunks) {
			chunks[i].Vector = d.Vectors[i]
		}
	}
	return w.PutChunks(ctx, chunks)
}

// DeleteSource implements ChunkBackend.
func (w *Weaviate) DeleteSource(ctx context.Context, source string) error {
	where := filters.Where().WithPath([]string{wvSource}).WithOperator(filters.Equal).WithValueText(source)
	_, err := w.client.Batch().ObjectsBatchDeleter().WithClassName(w.cfg.Class).WithWhere(where).Do(ctx)
	if err != nil {
		return fmt.Errorf("weaviate: delete chunks of %s: %w", source, err)
	}
	return nil
}

// SearchChunks implements ChunkBackend with Weaviate's bm25, nearVector
// and hybrid queries. Scores are Weaviate's: BM25 scores, cosine
// similarity (1 - distance) for dense, fused scores for hybrid.
func (w *Weaviate) SearchChunks(ctx context.Context, q BackendQuery) ([]index.Hit, error) {
	k := q.K
	if k <= 0 {
		k = 5
	}
	limit := k
	if q.Filter != nil {
		limit = max(10*k, 100)
	}
	fields := []graphql.Field{{Name: wvChunkID}, {Name: wvSource}, {Name: wvTitle},
		{Name: "_additional", Fields: []graphql.Field{{Name: "score"}, {Name: "distance"}}}}
	get := w.client.GraphQL().Get().WithClassName(w.cfg.Class).WithFields(fields...).WithLimit(limit)
	gq := w.client.GraphQL()
	switch q.Mode {
	case ModeBM25, "":
		get = get.WithBM25(gq.Bm25ArgBuilder().WithQuery(q.Text).WithProperties(wvText))
	case ModeDense:
		if len(q.Vector) == 0 {
			return nil, fmt.Errorf("weaviate dense search: %w", ErrNoVectors)
		}
		get = get.WithNearVector(gq.NearVectorArgBuilder().WithVector(q.Vector))
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
		get = get.WithHybrid(gq.HybridArgumentBuilder().WithQuery(q.Text).WithVector(q.Vector).
			WithAlpha(float32(alpha)).WithFusionType(fusion).WithProperties([]string{wvText}))
	default:
		return nil, fmt.Errorf("unknown retrieval mode %q", q.Mode)
	}
	resp, err := get.Do(ctx)
	if err != nil {
		return nil, fmt.Errorf("weaviate %s search: %w", q.Mode, err)
	}
	if len(resp.Errors) > 0 {
		msgs := make([]string, len(resp.Errors))
		for i, e := range resp.Errors {
			msgs[i] = e.Message
		}
		return nil, fmt.Errorf("weaviate %s search: %s", q.Mode, strings.Join(msgs, "; "))
	}
	hits, err := parseHits(resp.Data, w.cfg.Class, q.Mode == ModeDense)
	if err != nil {
		return nil, fmt.Errorf("weaviate %s search: %w", q.Mode, err)
	}
	if q.Filter != nil {
		kept := hits[:0]
		for _, h := range hits {
			if q.Filter(h.Meta) {
				kept = append(kept, h)
			}
		}
		hits = kept
	}
	return cut(hits, k), nil
}

// parseHits reads Get{Class{chunkId source title _additional{score
// distance}}} from a GraphQL response.
func parseHits(data map[string]models.JSONObject, class string, byDistance bool) ([]index.Hit, error) {
	get, _ := data["Get"].(map[string]any)
	rows, ok := get[class].([]any)
	if !ok {
		if get != nil && get[class] == nil {
			return nil, nil
		}
		return nil, errors.New("response has no Get." + class + " list")
	}
	hits := make([]index.Hit, 0, len(rows))
	for _, r := range rows {
		obj, _ := r.(map[string]any)
		id, _ := obj[wvChunkID].(string)
		src, _ := obj[wvSource].(string)
		title, _ := obj[wvTitle].(string)
		add, _ := obj["_additional"].(map[string]any)
		var score float64
		if byDistance {
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
		hits = append(hits, index.Hit{ID: id, Score: score, Meta: map[string]string{MetaSource: src, MetaTitle: title}})
	}
	return hits, nil
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
	err := w.client.Data().Deleter().WithClassName(w.cfg.Class).WithID(string(objectID(w.cfg.Class, id))).Do(ctx)
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
	resp, err := w.client.GraphQL().Aggregate().WithClassName(w.cfg.Class).
		WithFields(graphql.Field{Name: "meta", Fields: []graphql.Field{{Name: "count"}}}).Do(ctx)
	if err != nil || len(resp.Errors) > 0 {
		return -1
	}
	agg, _ := resp.Data["Aggregate"].(map[string]any)
	rows, _ := agg[w.cfg.Class].([]any)
	if len(rows) == 0 {
		return 0
	}
	row, _ := rows[0].(map[string]any)
	meta, _ := row["meta"].(map[string]any)
	n, err := number(meta["count"])
	if err != nil {
		return -1
	}
	return int(n)
}

// Dim implements VectorIndex: the size of the vectors put through this
// handle (0 before the first).
func (w *Weaviate) Dim() int { return w.dim }

// Save implements VectorIndex. Weaviate persists the vectors itself, so
// only where they live is written.
func (w *Weaviate) Save(out io.Writer) error {
	return json.NewEncoder(out).Encode(map[string]string{"weaviate": w.cfg.URL, "class": w.cfg.Class})
}
