package rag

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"ragtune/index"
)

// A knowledge base lives in one directory:
//
//	kb.json       configuration (chunking, BM25, embedding source), written once
//	snapshot.bin  all documents, chunks, vectors and serialized indexes as of
//	              sequence number Seq; replaced atomically (temp file + rename)
//	wal.log       documents committed after the snapshot, one checksummed
//	              record each, fsynced before the commit returns
//
// Opening loads the snapshot and replays the log; a record cut short by a
// crash (or failing its checksum) ends the replay, so a kill -9 during
// ingest loses at most the document being written. Replay is idempotent
// (records carry sequence numbers and replace whole documents), so a crash
// between writing a snapshot and truncating the log is harmless too.
const (
	configFile   = "kb.json"
	snapshotFile = "snapshot.bin"
	walFile      = "wal.log"
	lockFile     = "LOCK"
)

// StoreConfig is a knowledge base's fixed configuration.
type StoreConfig struct {
	Name      string           `json:"name"`
	Created   time.Time        `json:"created"`
	ChunkSize int              `json:"chunk_size"`
	Overlap   int              `json:"overlap"`
	BM25      index.BM25Params `json:"bm25"`
	Analyzer  string           `json:"analyzer"` // documents which tokenizer built the BM25 index

	// Embedding, when set, means every chunk is embedded at ingest by an
	// OpenAI-compatible server (or, later, a local encoder) and dense and
	// hybrid retrieval are available.
	Embedding   *EmbeddingConfig `json:"embedding,omitempty"`
	VectorIndex string           `json:"vector_index,omitempty"` // "flat" (default) or "hnsw"
}

// EmbeddingConfig records where a knowledge base's vectors come from, so
// queries are embedded the same way.
type EmbeddingConfig struct {
	// Path is a local BERT/bge encoder (HF directory or bert GGUF); URL an
	// OpenAI-compatible /v1/embeddings server. One of the two is set.
	Path  string `json:"path,omitempty"`
	URL   string `json:"url,omitempty"`
	Model string `json:"model,omitempty"`
	Dim   int    `json:"dim,omitempty"` // informational; the vector index takes its size from the first vectors
}

const analyzerName = "gse-words+han-bigrams+stopwords"

// DocRecord is one ingested file.
type DocRecord struct {
	Path    string
	Hash    string // SHA-256 of the file content
	Size    int64
	ModTime time.Time
	Title   string
	Chunks  []Chunk
	Vectors [][]float32 // one per chunk when the KB has embeddings
}

// Result is one retrieved chunk.
type Result struct {
	ID    string
	Score float64
	Chunk Chunk
}

// Store is an embedded, crash-safe knowledge base. Searches may run
// concurrently with one another and with Put/Delete from one writer.
type Store struct {
	dir      string
	cfg      StoreConfig
	readOnly bool
	embed    Embedder

	mu     sync.RWMutex // guards docs, chunks, seq
	docs   map[string]*DocRecord
	chunks map[string]Chunk
	seq    uint64

	lex *index.BM25
	vec VectorIndex

	walMu   sync.Mutex // serializes writers
	wal     *os.File
	walSize int64
	unlock  func()
}

// ErrNoKB means the directory holds no knowledge base.
var ErrNoKB = errors.New("no knowledge base")

// CreateStore makes a new knowledge base in dir (which must not hold one).
func CreateStore(dir string, cfg StoreConfig) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, fmt.Errorf("create knowledge base: %s already holds one", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create knowledge base: %w", err)
	}
	if cfg.Created.IsZero() {
		cfg.Created = time.Now().UTC()
	}
	if cfg.BM25 == (index.BM25Params{}) {
		cfg.BM25 = index.BM25Params{K1: 0.9, B: 0.4}
	}
	cfg.Analyzer = analyzerName
	if err := writeConfig(dir, cfg); err != nil {
		return nil, err
	}
	return OpenStore(dir, embedderFor(cfg), false)
}

func writeConfig(dir string, cfg StoreConfig) error {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return index.SaveFile(filepath.Join(dir, configFile), func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// embedderFor returns the remote embedder a config names, or nil.
func embedderFor(cfg StoreConfig) Embedder {
	if cfg.Embedding == nil {
		return nil
	}
	if cfg.Embedding.Path != "" {
		return LocalBertEmbedder(cfg.Embedding.Path)
	}
	if cfg.Embedding.URL == "" {
		return nil
	}
	return RemoteEmbedder(cfg.Embedding.URL, cfg.Embedding.Model, os.Getenv("RAGTUNE_EMBED_API_KEY"), nil)
}

// ReadStoreConfig reads dir's kb.json.
func ReadStoreConfig(dir string) (StoreConfig, error) {
	var cfg StoreConfig
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, fmt.Errorf("%w in %s", ErrNoKB, dir)
	}
	if err != nil {
		return cfg, fmt.Errorf("read knowledge base config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parse %s: %w", filepath.Join(dir, configFile), err)
	}
	return cfg, nil
}

// OpenStore opens the knowledge base in dir. embed nil uses the embedder
// kb.json names (if any). readOnly opens without the writer lock, so a
// query can run while another process ingests; it sees every document
// committed by the time it opens.
func OpenStore(dir string, embed Embedder, readOnly bool) (*Store, error) {
	cfg, err := ReadStoreConfig(dir)
	if err != nil {
		return nil, err
	}
	if embed == nil {
		embed = embedderFor(cfg)
	}
	s := &Store{dir: dir, cfg: cfg, readOnly: readOnly, embed: embed, docs: map[string]*DocRecord{}, chunks: map[string]Chunk{}}
	if !readOnly {
		unlock, err := lockDir(filepath.Join(dir, lockFile))
		if err != nil {
			return nil, fmt.Errorf("open knowledge base %s for writing: %w (is another ingest running?)", dir, err)
		}
		s.unlock = unlock
	}
	// A reader racing a writer's checkpoint could pair the old snapshot
	// with the already emptied log; reload when the snapshot changed
	// under us.
	for attempt := 0; ; attempt++ {
		before := snapshotStamp(dir)
		if err := s.load(); err != nil {
			s.Close()
			return nil, err
		}
		if !readOnly || snapshotStamp(dir) == before || attempt == 3 {
			return s, nil
		}
		s.docs, s.chunks, s.seq = map[string]*DocRecord{}, map[string]Chunk{}, 0
	}
}

// snapshotStamp identifies the current snapshot file version.
func snapshotStamp(dir string) string {
	fi, err := os.Stat(filepath.Join(dir, snapshotFile))
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
}

func (s *Store) newIndexes(dim int) {
	s.lex = index.NewBM25(s.cfg.BM25, index.DefaultAnalyzer().Tokens)
	s.vec = nil
	if dim > 0 {
		s.vec = s.newVectorIndex(dim)
	}
}

func (s *Store) newVectorIndex(dim int) VectorIndex {
	if s.cfg.VectorIndex == "hnsw" {
		return index.NewHNSW(dim, index.DefaultHNSWConfig)
	}
	return index.NewFlat(dim)
}

type snapshot struct {
	Seq        uint64
	Docs       []*DocRecord
	BM25       []byte
	VectorKind string
	Vectors    []byte
}

func (s *Store) load() error {
	dim := 0
	if s.cfg.Embedding != nil {
		dim = s.cfg.Embedding.Dim
	}
	s.newIndexes(dim)
	var snap snapshot
	err := readFrame(filepath.Join(s.dir, snapshotFile), &snap)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("open knowledge base %s: snapshot: %w", s.dir, err)
	default:
		lex, err := index.LoadBM25(bytes.NewReader(snap.BM25), index.DefaultAnalyzer().Tokens)
		if err != nil {
			return fmt.Errorf("open knowledge base %s: %w", s.dir, err)
		}
		s.lex = lex
		switch snap.VectorKind {
		case "flat":
			s.vec, err = index.LoadFlat(bytes.NewReader(snap.Vectors))
		case "hnsw":
			s.vec, err = index.LoadHNSW(bytes.NewReader(snap.Vectors))
		}
		if err != nil {
			return fmt.Errorf("open knowledge base %s: %w", s.dir, err)
		}
		s.seq = snap.Seq
		for _, d := range snap.Docs {
			s.docs[d.Path] = d
			for _, c := range d.Chunks {
				s.chunks[chunkID(d.Path, c.Index)] = c
			}
		}
	}
	return s.replayWAL()
}

// replayWAL applies log records newer than the snapshot and, when
// writable, truncates a torn tail so later appends follow a valid record.
func (s *Store) replayWAL() error {
	path := filepath.Join(s.dir, walFile)
	flag := os.O_RDONLY
	if !s.readOnly {
		flag = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if errors.Is(err, fs.ErrNotExist) && s.readOnly {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open write-ahead log: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var good int64
	for {
		var rec walRecord
		n, err := readRecord(r, &rec)
		if err != nil {
			break // end of log, or a record torn by a crash: stop here
		}
		good += n
		if rec.Seq <= s.seq {
			continue
		}
		if err := s.apply(&rec); err != nil {
			f.Close()
			return fmt.Errorf("replay write-ahead log: %w", err)
		}
		s.seq = rec.Seq
	}
	if s.readOnly {
		return f.Close()
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return fmt.Errorf("truncate torn write-ahead log tail: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	s.wal, s.walSize = f, good
	return nil
}

type walRecord struct {
	Seq    uint64
	Delete bool
	Path   string
	Doc    *DocRecord
}

// Records are framed as [payload length u32][CRC-32C u32][gob payload].
var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encodeRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(make([]byte, 8))
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(b)-8))
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], crcTable))
	return b, nil
}

func readRecord(r io.Reader, v any) (int64, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n > 1<<30 {
		return 0, errors.New("record too large")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, err
	}
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return 0, errors.New("record checksum mismatch")
	}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(v); err != nil {
		return 0, err
	}
	return int64(8 + n), nil
}

func readFrame(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = readRecord(bufio.NewReaderSize(f, 1<<20), v)
	if err != nil {
		return fmt.Errorf("%s is corrupt: %w", path, err)
	}
	return nil
}

func chunkID(path string, i int) string { return fmt.Sprintf("%s#%d", path, i) }

// apply changes the in-memory state for one record. The maps are updated
// before the indexes on insert and after them on delete, so a concurrent
// search never sees an index hit without its chunk.
func (s *Store) apply(rec *walRecord) error {
	s.mu.Lock()
	old := s.docs[rec.Path]
	s.mu.Unlock()
	if old != nil {
		for _, c := range old.Chunks {
			id := chunkID(old.Path, c.Index)
			s.lex.Delete(id)
			if s.vec != nil {
				s.vec.Delete(id)
			}
		}
		s.mu.Lock()
		for _, c := range old.Chunks {
			delete(s.chunks, chunkID(old.Path, c.Index))
		}
		delete(s.docs, rec.Path)
		s.mu.Unlock()
	}
	if rec.Delete || rec.Doc == nil {
		return nil
	}
	d := rec.Doc
	s.mu.Lock()
	s.docs[d.Path] = d
	for _, c := range d.Chunks {
		s.chunks[chunkID(d.Path, c.Index)] = c
	}
	s.mu.Unlock()
	docs := make([]index.Doc, len(d.Chunks))
	for i, c := range d.Chunks {
		docs[i] = index.Doc{ID: chunkID(d.Path, c.Index), Text: c.ContextText(), Meta: map[string]string{MetaSource: d.Path, MetaTitle: d.Title}}
	}
	s.lex.AddBatch(docs)
	if len(d.Vectors) > 0 {
		if len(d.Vectors) != len(d.Chunks) {
			return fmt.Errorf("document %s has %d vectors for %d chunks", d.Path, len(d.Vectors), len(d.Chunks))
		}
		if s.vec == nil {
			s.vec = s.newVectorIndex(len(d.Vectors[0]))
		}
		for i, v := range d.Vectors {
			if err := s.vec.Add(docs[i].ID, v, docs[i].Meta); err != nil {
				return fmt.Errorf("document %s: %w", d.Path, err)
			}
		}
	}
	return nil
}

// Put commits a document (replacing any with the same path): the record is
// appended to the log and fsynced, then applied to the indexes.
func (s *Store) Put(d *DocRecord) error {
	return s.commit([]*walRecord{{Path: d.Path, Doc: d}})
}

// PutBatch commits several documents with one fsync (group commit): none
// of them is committed before all are durable, and Ingest uses it so slow
// disks cost one sync per batch instead of one per file.
func (s *Store) PutBatch(docs []*DocRecord) error {
	recs := make([]*walRecord, len(docs))
	for i, d := range docs {
		recs[i] = &walRecord{Path: d.Path, Doc: d}
	}
	return s.commit(recs)
}

// Delete commits the removal of a document.
func (s *Store) Delete(path string) error {
	return s.commit([]*walRecord{{Path: path, Delete: true}})
}

func (s *Store) commit(recs []*walRecord) error {
	if s.readOnly {
		return errors.New("knowledge base opened read-only")
	}
	if len(recs) == 0 {
		return nil
	}
	s.walMu.Lock()
	defer s.walMu.Unlock()
	s.mu.RLock()
	seq := s.seq
	s.mu.RUnlock()
	var buf bytes.Buffer
	for _, rec := range recs {
		seq++
		rec.Seq = seq
		b, err := encodeRecord(rec)
		if err != nil {
			return fmt.Errorf("encode log record for %s: %w", rec.Path, err)
		}
		buf.Write(b)
	}
	if _, err := s.wal.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("append to write-ahead log: %w", err)
	}
	if err := s.wal.Sync(); err != nil {
		return fmt.Errorf("sync write-ahead log: %w", err)
	}
	s.walSize += int64(buf.Len())
	for _, rec := range recs {
		if err := s.apply(rec); err != nil {
			return err
		}
		s.mu.Lock()
		s.seq = rec.Seq
		s.mu.Unlock()
	}
	if s.walSize > 256<<20 {
		return s.checkpointLocked()
	}
	return nil
}

// Checkpoint writes a snapshot of everything committed and empties the log.
func (s *Store) Checkpoint() error {
	if s.readOnly {
		return nil
	}
	s.walMu.Lock()
	defer s.walMu.Unlock()
	return s.checkpointLocked()
}

func (s *Store) checkpointLocked() error {
	if s.walSize == 0 {
		return nil
	}
	var snap snapshot
	s.mu.RLock()
	snap.Seq = s.seq
	for _, d := range s.docs {
		snap.Docs = append(snap.Docs, d)
	}
	s.mu.RUnlock()
	sort.Slice(snap.Docs, func(i, j int) bool { return snap.Docs[i].Path < snap.Docs[j].Path })
	var buf bytes.Buffer
	if err := s.lex.Save(&buf); err != nil {
		return err
	}
	snap.BM25 = append([]byte(nil), buf.Bytes()...)
	if s.vec != nil {
		buf.Reset()
		if err := s.vec.Save(&buf); err != nil {
			return err
		}
		snap.Vectors = buf.Bytes()
		snap.VectorKind = "flat"
		if _, ok := s.vec.(*index.HNSW); ok {
			snap.VectorKind = "hnsw"
		}
	}
	b, err := encodeRecord(&snap)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	if err := index.SaveFile(filepath.Join(s.dir, snapshotFile), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}); err != nil {
		return err
	}
	// The snapshot is durable; the log's records are now redundant.
	if err := s.wal.Truncate(0); err != nil {
		return fmt.Errorf("truncate write-ahead log: %w", err)
	}
	if _, err := s.wal.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.walSize = 0
	return s.wal.Sync()
}

// Close checkpoints (when writable) and releases the directory.
func (s *Store) Close() error {
	var err error
	if s.wal != nil {
		err = s.Checkpoint()
		if cerr := s.wal.Close(); err == nil {
			err = cerr
		}
		s.wal = nil
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return err
}

// Config returns the knowledge base's configuration.
func (s *Store) Config() StoreConfig { return s.cfg }

// Dir returns the knowledge base directory.
func (s *Store) Dir() string { return s.dir }

// Doc returns the record of an ingested file.
func (s *Store) Doc(path string) (*DocRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.docs[path]
	return d, ok
}

// Paths lists the ingested files, sorted.
func (s *Store) Paths() []string {
	s.mu.RLock()
	out := make([]string, 0, len(s.docs))
	for p := range s.docs {
		out = append(out, p)
	}
	s.mu.RUnlock()
	sort.Strings(out)
	return out
}

// StoreStats summarizes a knowledge base.
type StoreStats struct {
	Docs, Chunks int
	Chars        int64
	VectorDim    int
	VectorIndex  string
	WALBytes     int64
	Seq          uint64
}

// Stats returns counts and sizes.
func (s *Store) Stats() StoreStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := StoreStats{Docs: len(s.docs), Chunks: len(s.chunks), Seq: s.seq, WALBytes: s.walSize}
	for _, c := range s.chunks {
		st.Chars += int64(c.CharEnd - c.CharStart)
	}
	if s.vec != nil {
		st.VectorDim = s.vec.Dim()
		st.VectorIndex = "flat"
		if _, ok := s.vec.(*index.HNSW); ok {
			st.VectorIndex = "hnsw"
		}
	}
	return st
}

// Query is one knowledge-base search.
type Query struct {
	Text   string
	K      int          // default 5
	Mode   Mode         // default ModeBM25
	Filter index.Filter // sees chunk metadata; MetaSource holds the file path
	Fusion Fusion       // hybrid only; default FusionRRF
	Rerank Reranker     // optional second stage over the candidates
}

// Search retrieves the best chunks for q.
func (s *Store) Search(ctx context.Context, q Query) ([]Result, error) {
	if q.K <= 0 {
		q.K = 5
	}
	if q.Mode == "" {
		q.Mode = ModeBM25
	}
	r := &Retriever{Lexical: s.lex, Vectors: s.vec, Embed: s.embed, Fusion: q.Fusion, Rerank: q.Rerank}
	if q.Mode != ModeBM25 && (s.vec == nil || s.embed == nil) {
		return nil, fmt.Errorf("%s retrieval: this knowledge base has no vectors (ingest it with an embedder: --embed-path for a local BERT/bge model, --embed-url for a server): %w", q.Mode, ErrNoVectors)
	}
	hits, err := r.Search(ctx, q.Text, q.K, q.Mode, q.Filter)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Result, 0, len(hits))
	for _, h := range hits {
		if c, ok := s.chunks[h.ID]; ok {
			out = append(out, Result{ID: h.ID, Score: h.Score, Chunk: c})
		}
	}
	return out, nil
}

// SourceUnder returns a Filter admitting chunks of files under root.
func SourceUnder(root string) index.Filter {
	root = filepath.Clean(root)
	return func(meta map[string]string) bool {
		src := meta[MetaSource]
		return src == root || strings.HasPrefix(src, root+string(filepath.Separator))
	}
}
