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
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ragtune/index"
)

// A knowledge base lives in one directory:
//
//	kb.json       configuration (chunking, BM25, embedding source), written once
//	snapshot.bin  all documents, chunks, vectors and serialized indexes as of
//	              sequence number Seq; replaced atomically (temp file + rename);
//	              format in store_snapshot.go
//	wal.log       changes committed after the snapshot, one checksummed
//	              record per commit (a batch is one record, so it is applied
//	              whole or not at all), fsynced before the commit returns
//	LOCK          the writer's advisory lock
//
// A commit appends to the log, so a small upload costs what it adds, not
// the size of the knowledge base; the log is compacted into a new
// snapshot only once it outgrows a quarter of the snapshot (at least
// compactMinLog bytes), which keeps the rewrites amortized O(upload).
//
// Opening loads the snapshot and replays the log; a record cut short by a
// crash (or failing its checksum) ends the replay, so a kill -9 during
// ingest loses at most the commit being written. Replay is idempotent
// (records carry consecutive sequence numbers and replace whole
// documents), so a crash between writing a snapshot and truncating the
// log is harmless too. Readers take no lock: they read the snapshot and
// the log's complete records, the last committed state, and can follow
// the writer's later commits (Refresh).
const (
	configFile   = "kb.json"
	snapshotFile = "snapshot.bin"
	walFile      = "wal.log"
	lockFile     = "LOCK"

	compactMinLog   = 1 << 20 // never compact a log smaller than this
	compactFraction = 4       // compact when the log exceeds snapshot/compactFraction
)

// bulkMaxLog: during a bulk ingest the log is compacted only once it
// exceeds both this and the snapshot. Each rewrite then follows at least
// as many logged bytes as it rewrites, so a large ingest rewrites
// O(final size) bytes in all (a fixed limit rewrote a growing snapshot
// every 256 MB: several multi-gigabyte rewrites at a million chunks),
// and replay after a crash re-indexes at most as much as the snapshot
// holds. A variable so tests can lower it.
var bulkMaxLog int64 = 256 << 20

// StoreConfig is a knowledge base's fixed configuration.
type StoreConfig struct {
	Name      string           `json:"name"`
	Created   time.Time        `json:"created"`
	ChunkSize int              `json:"chunk_size"`
	Overlap   int              `json:"overlap"`
	BM25      index.BM25Params `json:"bm25"`
	Analyzer  string           `json:"analyzer"` // documents which tokenizer built the BM25 index

	// Embedding, when set, means every chunk is embedded at ingest (by a
	// local encoder or an OpenAI-compatible server) and dense and hybrid
	// retrieval are available.
	Embedding   *EmbeddingConfig `json:"embedding,omitempty"`
	VectorIndex string           `json:"vector_index,omitempty"` // "flat" (default) or "hnsw"

	// Store, when set, keeps the chunks, vectors and indexes in an
	// external store (Weaviate) instead of this directory; see remote.go.
	Store *RemoteConfig `json:"store,omitempty"`
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
	// Vectors has one vector per chunk when the KB has embeddings, in a
	// record being committed; the store's own records (Doc) drop them
	// once indexed, since the vector index holds them.
	Vectors [][]float32

	// A knowledge base stored in Weaviate records no Chunks or Vectors
	// locally, only their count and characters (see NumChunks).
	ChunkCount int
	Chars      int64
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
	dir    string
	cfg    StoreConfig
	embed  Embedder
	shared bool // OpenShared: follow another writer, take over when it is gone

	// The chunks live once, in their documents' records (found by chunk
	// ID through docs); the records keep no vectors, which the vector
	// index holds.
	mu     sync.RWMutex // guards docs, seq and the lex and vec pointers
	docs   map[string]*DocRecord
	seq    uint64
	lex    *index.BM25
	vec    VectorIndex
	remote *Weaviate // the chunks' store when cfg.Store is set; lex and vec then stay empty

	following atomic.Bool // read-only and shared: reads catch up first

	addMu sync.Mutex // AddDocuments: duplicate check and commit together

	walMu    sync.Mutex // serializes commits, refreshes and Close; guards what follows
	readOnly bool
	closed   bool
	broken   error    // a failed log write: the file's tail is uncertain, commit no more
	bulk     int      // Ingest runs in progress: compaction waits for their end
	wal      *os.File // open for appending when writable
	walSize  int64    // bytes of valid log: appended (writer) or read so far (reader)
	snapInfo fs.FileInfo
	snapSize int64
	unlock   func()
}

// CreateStore makes a new knowledge base in dir (which must not hold one)
// and opens it for writing.
func CreateStore(dir string, cfg StoreConfig) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		return nil, &Error{Kind: ErrExists, Public: "the knowledge base already exists", Err: fmt.Errorf("create knowledge base: %s already holds one", dir)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, storeError(fmt.Errorf("create knowledge base: %w", err))
	}
	unlock, err := lockStore(dir)
	if err != nil {
		return nil, err
	}
	// Checked again under the lock: two creators cannot both write kb.json.
	if _, err := os.Stat(filepath.Join(dir, configFile)); err == nil {
		unlock()
		return nil, &Error{Kind: ErrExists, Public: "the knowledge base already exists", Err: fmt.Errorf("create knowledge base: %s already holds one", dir)}
	}
	if cfg.Created.IsZero() {
		cfg.Created = time.Now().UTC()
	}
	if cfg.BM25 == (index.BM25Params{}) {
		cfg.BM25 = index.BM25Params{K1: 0.9, B: 0.4}
	}
	cfg.Analyzer = analyzerName
	if cfg.Store != nil {
		cfg.Analyzer = "weaviate gse_ch (Han) + word"
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := createRemote(ctx, cfg)
		cancel()
		if err != nil {
			unlock()
			return nil, fmt.Errorf("create knowledge base %s: %w", cfg.Name, err)
		}
	}
	if err := writeConfig(dir, cfg); err != nil {
		unlock()
		return nil, storeError(err)
	}
	return openStore(dir, embedderFor(cfg), false, false, unlock)
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

// ReadStoreConfig reads dir's kb.json. A directory without one gives an
// error matching ErrNoKB and ErrNotFound.
func ReadStoreConfig(dir string) (StoreConfig, error) {
	var cfg StoreConfig
	data, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, &Error{Kind: ErrNoKB, Public: "no such knowledge base", Err: fmt.Errorf("%w in %s", ErrNoKB, dir)}
	}
	if err != nil {
		return cfg, &Error{Public: "the knowledge base's configuration cannot be read (details are in the server log)", Err: fmt.Errorf("read knowledge base config: %w", err)}
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, &Error{Public: "the knowledge base's configuration is damaged (details are in the server log)", Err: fmt.Errorf("parse %s: %w", filepath.Join(dir, configFile), err)}
	}
	return cfg, nil
}

// OpenStore opens the knowledge base in dir. embed nil uses the embedder
// kb.json names (if any). readOnly opens without the writer lock, so a
// query can run while another process ingests; it sees every change
// committed by the time it opens, and later ones after Refresh. A
// writable open fails with an error matching ErrLocked while another
// process holds the knowledge base, and removes the temporary files a
// crashed snapshot left behind.
func OpenStore(dir string, embed Embedder, readOnly bool) (*Store, error) {
	return openStore(dir, embed, readOnly, false, nil)
}

// OpenShared opens dir for a long-lived process that must answer reads
// whatever else runs (the server). It takes the writer lock when it can.
// When another process holds it, the store opens read-only and follows
// that writer: Search, Paths and Stats first catch up with its commits,
// and each write tries the lock again, failing with an error matching
// ErrLocked until the other writer is done, then proceeding as the writer.
func OpenShared(dir string, embed Embedder) (*Store, error) {
	return openStore(dir, embed, false, true, nil)
}

// lockStore takes dir's writer lock, or returns an error matching
// ErrLocked.
func lockStore(dir string) (func(), error) {
	unlock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, &Error{Kind: ErrLocked,
			Public: "the knowledge base is being written by another process (a 'ragtune ingest' or another server); try again when it is done",
			Err:    fmt.Errorf("open knowledge base %s for writing: %w (is another ingest running?)", dir, err)}
	}
	return unlock, nil
}

// openStore opens dir; unlock, when set, is the writer lock already held.
func openStore(dir string, embed Embedder, readOnly, shared bool, unlock func()) (*Store, error) {
	cfg, err := ReadStoreConfig(dir)
	if err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, err
	}
	if embed == nil {
		embed = embedderFor(cfg)
	}
	s := &Store{dir: dir, cfg: cfg, readOnly: true, embed: embed, shared: shared, unlock: unlock}
	if cfg.Store != nil {
		if s.remote, err = openRemote(cfg); err != nil {
			if unlock != nil {
				unlock()
			}
			return nil, err
		}
	}
	if !readOnly && s.unlock == nil {
		s.unlock, err = lockStore(dir)
		if err != nil && !(shared && errors.Is(err, ErrLocked)) {
			return nil, err
		}
	}
	if err := s.loadConsistent(); err != nil {
		s.Close()
		return nil, err
	}
	if s.unlock != nil {
		if err := s.becomeWriter(); err != nil {
			s.Close()
			return nil, err
		}
	} else if shared {
		s.following.Store(true)
	}
	return s, nil
}

// becomeWriter turns a store that has just taken the lock and read the
// whole log into the writer: the log opens for appending after its last
// complete record (a torn tail is cut off) and stale snapshot temporaries
// go.
func (s *Store) becomeWriter() error {
	f, err := os.OpenFile(filepath.Join(s.dir, walFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return storeError(fmt.Errorf("open write-ahead log: %w", err))
	}
	if err := f.Truncate(s.walSize); err != nil {
		f.Close()
		return storeError(fmt.Errorf("truncate torn write-ahead log tail: %w", err))
	}
	if _, err := f.Seek(s.walSize, io.SeekStart); err != nil {
		f.Close()
		return storeError(err)
	}
	removeStaleTemps(s.dir)
	s.wal, s.readOnly = f, false
	s.following.Store(false)
	return nil
}

// removeStaleTemps deletes the temporary snapshot files a writer killed
// mid-checkpoint left behind. Only the writer calls it, holding the lock,
// so no temporary file in use can match; only this store's own temp names
// are touched (index.SaveFile's current and former patterns).
func removeStaleTemps(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() ||
			!(strings.HasPrefix(name, snapshotFile+".tmp") || strings.HasPrefix(name, "."+snapshotFile+".tmp")) {
			continue
		}
		if os.Remove(filepath.Join(dir, name)) == nil {
			n++
		}
	}
	return n
}

// errLogGap reports a log whose records do not follow the state read so
// far: a reader raced a checkpoint and must start again.
var errLogGap = errors.New("write-ahead log does not follow the snapshot")

// loadConsistent loads the snapshot and the log into s. A reader racing a
// writer's checkpoint can pair the old snapshot with a log already
// emptied and refilled; that shows as a changed snapshot file or a gap in
// sequence numbers, and the load starts again.
func (s *Store) loadConsistent() error {
	for attempt := 0; ; attempt++ {
		s.docs, s.seq, s.walSize = map[string]*DocRecord{}, 0, 0
		err := s.load()
		if s.unlock != nil {
			return err // the writer: nobody else checkpoints
		}
		if err == nil && !snapshotChanged(s.dir, s.snapInfo) {
			return nil
		}
		if err != nil && !errors.Is(err, errLogGap) {
			return err
		}
		if attempt == 5 {
			return err // a writer checkpointing nonstop; what was read is consistent unless err says otherwise
		}
	}
}

// snapshotChanged reports whether dir's snapshot is no longer the file
// described by seen (nil: there was none).
func snapshotChanged(dir string, seen fs.FileInfo) bool {
	fi, err := os.Stat(filepath.Join(dir, snapshotFile))
	if err != nil {
		return seen != nil
	}
	return seen == nil || !os.SameFile(fi, seen) || fi.Size() != seen.Size() || !fi.ModTime().Equal(seen.ModTime())
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

// load reads the snapshot and the log's complete records into s (which
// holds empty maps), recording which snapshot file it read and how many
// log bytes.
func (s *Store) load() error {
	dim := 0
	if s.cfg.Embedding != nil {
		dim = s.cfg.Embedding.Dim
	}
	s.newIndexes(dim)
	s.snapInfo, s.snapSize = nil, 0
	snap, fi, err := readSnapshot(filepath.Join(s.dir, snapshotFile), index.DefaultAnalyzer().Tokens)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errNewerSnapshot):
		return &Error{Public: snapNewerMessage, Err: fmt.Errorf("open knowledge base %s: %w (%s)", s.dir, err, snapNewerMessage)}
	case err != nil:
		return &Error{Public: "the knowledge base's snapshot is damaged (details are in the server log)", Err: fmt.Errorf("open knowledge base %s: snapshot: %w", s.dir, err)}
	default:
		s.snapInfo, s.snapSize = fi, fi.Size()
		s.lex, s.seq = snap.lex, snap.seq
		if snap.vec != nil {
			s.vec = snap.vec
		}
		for _, d := range snap.docs {
			s.docs[d.Path] = d
		}
	}
	return s.readLog()
}

// readLog applies the log's complete records after the first s.walSize
// bytes, advancing s.walSize past each. It stops at the end of the log or
// at a record cut short or failing its checksum (a crash, or a writer
// still appending), which a later read picks up again.
func (s *Store) readLog() error {
	f, err := os.Open(filepath.Join(s.dir, walFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return storeError(fmt.Errorf("open write-ahead log: %w", err))
	}
	defer f.Close()
	if _, err := f.Seek(s.walSize, io.SeekStart); err != nil {
		return storeError(err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		var rec walRecord
		n, err := readRecord(r, &rec)
		if err != nil {
			return nil // end of log, or a torn record: stop here
		}
		if rec.Seq > s.seq+1 {
			return fmt.Errorf("%w: record %d after %d in %s", errLogGap, rec.Seq, s.seq, s.dir)
		}
		if rec.Seq == s.seq+1 {
			if err := s.apply(&rec); err != nil {
				return &Error{Public: "the knowledge base's log is damaged (details are in the server log)", Err: fmt.Errorf("replay write-ahead log: %w", err)}
			}
			s.mu.Lock()
			s.seq = rec.Seq
			s.mu.Unlock()
		}
		s.walSize += n
	}
}

type walRecord struct {
	Seq    uint64
	Delete bool
	Path   string
	Doc    *DocRecord
	Batch  []*walRecord // changes committed together: one record, all or none
}

// Records are framed as [payload length u32][CRC-32C u32][gob payload].
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxRecordBytes bounds one record's payload, so a corrupt length cannot
// make a reader allocate gigabytes; commits larger than this are refused.
// A variable so tests can lower it.
var maxRecordBytes = 1 << 30

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
	return readRecordLimit(r, v, int64(maxRecordBytes))
}

// readRecordLimit reads one record whose payload is at most limit bytes.
func readRecordLimit(r io.Reader, v any, limit int64) (int64, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if int64(n) > limit {
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

func chunkID(path string, i int) string { return path + "#" + strconv.Itoa(i) }

// shareChunkStrings points each chunk's source, title and heading path at
// its document's (or the previous chunk's) equal strings. Decoding a
// record (the log, a snapshot) allocates them anew for every chunk.
func shareChunkStrings(d *DocRecord) {
	for i := range d.Chunks {
		c := &d.Chunks[i]
		if c.Source == d.Path {
			c.Source = d.Path
		}
		if c.Title == d.Title {
			c.Title = d.Title
		}
		if i > 0 && slices.Equal(c.Headings, d.Chunks[i-1].Headings) {
			c.Headings = d.Chunks[i-1].Headings
		}
	}
}

// chunkLocked finds a chunk by its ID (chunkID) in its document's record;
// s.mu is held.
func (s *Store) chunkLocked(id string) (Chunk, bool) {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return Chunk{}, false
	}
	n, err := strconv.Atoi(id[i+1:])
	d, ok := s.docs[id[:i]]
	if err != nil || !ok {
		return Chunk{}, false
	}
	if n >= 0 && n < len(d.Chunks) && d.Chunks[n].Index == n {
		return d.Chunks[n], true
	}
	for _, c := range d.Chunks {
		if c.Index == n {
			return c, true
		}
	}
	return Chunk{}, false
}

// apply changes the in-memory state for one record (every change of a
// batch). The maps are updated before the indexes on insert and after
// them on delete, so a concurrent search never sees an index hit without
// its chunk.
func (s *Store) apply(rec *walRecord) error {
	if len(rec.Batch) > 0 {
		for _, r := range rec.Batch {
			if err := s.applyOne(r); err != nil {
				return err
			}
		}
		return nil
	}
	return s.applyOne(rec)
}

func (s *Store) applyOne(rec *walRecord) error {
	if s.remote != nil {
		// The record is all there is locally: the chunks live remotely.
		s.mu.Lock()
		delete(s.docs, rec.Path)
		if !rec.Delete && rec.Doc != nil {
			s.docs[rec.Path] = rec.Doc
		}
		s.mu.Unlock()
		return nil
	}
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
		delete(s.docs, rec.Path)
		s.mu.Unlock()
	}
	if rec.Delete || rec.Doc == nil {
		return nil
	}
	d := rec.Doc
	// The record kept is a copy without the vectors (the vector index
	// keeps its own normalized copy): the caller's record, and the log
	// record being replayed, hold them only until they are indexed.
	kept := *d
	kept.Vectors = nil
	shareChunkStrings(&kept)
	s.mu.Lock()
	s.docs[d.Path] = &kept
	s.mu.Unlock()
	// One ID string and one metadata map serve both indexes and every
	// chunk of the document.
	meta := map[string]string{MetaSource: d.Path, MetaTitle: d.Title}
	docs := make([]index.Doc, len(d.Chunks))
	for i, c := range d.Chunks {
		docs[i] = index.Doc{ID: chunkID(d.Path, c.Index), Text: c.ContextText(), Meta: meta}
	}
	s.lex.AddBatch(docs)
	if len(d.Vectors) > 0 {
		if len(d.Vectors) != len(d.Chunks) {
			return fmt.Errorf("document %s has %d vectors for %d chunks", d.Path, len(d.Vectors), len(d.Chunks))
		}
		if s.vec == nil {
			vec := s.newVectorIndex(len(d.Vectors[0]))
			s.mu.Lock()
			s.vec = vec
			s.mu.Unlock()
		}
		for i, v := range d.Vectors {
			if err := s.vec.Add(docs[i].ID, v, meta); err != nil {
				return fmt.Errorf("document %s: %w", d.Path, err)
			}
		}
	}
	return nil
}

// validate rejects, before anything is logged, a change that could not be
// applied (applying a logged record must not fail, or every later open
// would fail on it too).
func (s *Store) validate(recs []*walRecord) error {
	dim := 0
	s.mu.RLock()
	if s.vec != nil {
		dim = s.vec.Dim()
	}
	s.mu.RUnlock()
	for _, rec := range recs {
		d := rec.Doc
		if d == nil {
			continue
		}
		if d.Path != rec.Path {
			return fmt.Errorf("record for %s holds document %s", rec.Path, d.Path)
		}
		if len(d.Vectors) == 0 {
			continue
		}
		if len(d.Vectors) != len(d.Chunks) {
			return fmt.Errorf("document %s has %d vectors for %d chunks", d.Path, len(d.Vectors), len(d.Chunks))
		}
		for i, v := range d.Vectors {
			if dim == 0 {
				dim = len(v)
			}
			if len(v) != dim {
				return fmt.Errorf("document %s: vector %d has %d dimensions, the knowledge base %d", d.Path, i, len(v), dim)
			}
			if !usableVector(v) {
				return fmt.Errorf("document %s: vector %d is zero or not finite", d.Path, i)
			}
		}
	}
	return nil
}

func usableVector(v []float32) bool {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	return ss > 0 && !math.IsInf(ss, 0) && !math.IsNaN(ss)
}

// Put commits a document (replacing any with the same path): the record is
// appended to the log and fsynced, then applied to the indexes.
func (s *Store) Put(d *DocRecord) error {
	return s.commit([]*walRecord{{Path: d.Path, Doc: d}})
}

// PutBatch commits several documents as one log record with one fsync:
// after a crash either all of them are in the knowledge base or none is.
// Ingest uses it so slow disks cost one sync per batch, and AddDocuments
// for all-or-nothing uploads.
func (s *Store) PutBatch(docs []*DocRecord) error {
	recs := make([]*walRecord, len(docs))
	for i, d := range docs {
		recs[i] = &walRecord{Path: d.Path, Doc: d}
	}
	return s.commit(recs)
}

// Delete commits the removal of a document. Deleting a path that holds
// no document is not an error.
func (s *Store) Delete(path string) error {
	return s.commit([]*walRecord{{Path: path, Delete: true}})
}

func (s *Store) commit(recs []*walRecord) error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	if err := s.validate(recs); err != nil {
		return &Error{Public: "the embedder returned vectors the knowledge base cannot store (details are in the server log)", Err: err}
	}
	if s.remote != nil {
		// Remote first: the local log must never hold a document the
		// remote store has not acknowledged.
		ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
		var err error
		recs, err = s.pushRemote(ctx, recs)
		cancel()
		if err != nil {
			return err
		}
	}
	rec := recs[0]
	if len(recs) > 1 {
		rec = &walRecord{Batch: recs}
	}
	rec.Seq = s.seq + 1 // s.seq only changes under walMu
	b, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("encode log record: %w", err)
	}
	if len(b)-8 > maxRecordBytes {
		// readRecord would refuse it on replay, losing it and every later
		// commit: refuse it now instead.
		return &Error{Kind: ErrTooLarge, Public: "too much content for one commit; add the documents in smaller groups",
			Err: fmt.Errorf("knowledge base %s: a commit of %d bytes exceeds the %d-byte record limit", s.dir, len(b)-8, maxRecordBytes)}
	}
	if _, err := s.wal.Write(b); err != nil {
		return s.failedWrite(fmt.Errorf("append to write-ahead log: %w", err))
	}
	if err := s.wal.Sync(); err != nil {
		return s.failedWrite(fmt.Errorf("sync write-ahead log: %w", err))
	}
	s.walSize += int64(len(b))
	if err := s.apply(rec); err != nil {
		// Cannot happen after validate; the record is durable and replays.
		return fmt.Errorf("apply committed record: %w", err)
	}
	s.mu.Lock()
	s.seq = rec.Seq
	s.mu.Unlock()
	if s.walSize > s.compactThreshold() && (s.bulk == 0 || s.walSize > max(bulkMaxLog, s.snapSize)) {
		// The commit is durable whatever happens here; a failed
		// compaction is retried after the next commit and reported by
		// Checkpoint and Close.
		s.checkpointLocked()
	}
	return nil
}

// beginBulk defers compaction while a run of many commits (Ingest) goes
// on, so a large ingest rewrites the snapshot once at its end instead of
// every time the log outgrows a quarter of a growing snapshot; endBulk
// compacts then if the log is past its threshold.
func (s *Store) beginBulk() {
	s.walMu.Lock()
	s.bulk++
	s.walMu.Unlock()
}

func (s *Store) endBulk() error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	s.bulk--
	if s.bulk > 0 || s.readOnly || s.closed || s.walSize <= s.compactThreshold() {
		return nil
	}
	return s.checkpointLocked()
}

// failedWrite cuts the log back to its last complete record after a
// failed append, so later records do not follow garbage; when even that
// fails the store refuses further commits.
func (s *Store) failedWrite(err error) error {
	if terr := s.wal.Truncate(s.walSize); terr != nil {
		s.broken = err
	} else if _, serr := s.wal.Seek(s.walSize, io.SeekStart); serr != nil {
		s.broken = err
	}
	return storeError(err)
}

// writableLocked returns why s cannot take a commit now, first trying to
// become the writer when it follows another one.
func (s *Store) writableLocked() error {
	switch {
	case s.closed:
		return &Error{Kind: ErrClosed, Public: "the knowledge base was closed or deleted", Err: fmt.Errorf("knowledge base %s: %w", s.dir, ErrClosed)}
	case s.broken != nil:
		return storeError(fmt.Errorf("knowledge base %s: an earlier log write failed (%v); reopen it", s.dir, s.broken))
	case !s.readOnly:
		return nil
	case !s.shared:
		return &Error{Kind: ErrReadOnly, Public: "the knowledge base is open read-only", Err: fmt.Errorf("knowledge base %s: %w", s.dir, ErrReadOnly)}
	}
	unlock, err := lockStore(s.dir)
	if err != nil {
		return err
	}
	// Holding the lock, catch up with everything the other writer
	// committed, then take over its log.
	if err := s.refreshLocked(); err != nil {
		unlock()
		return err
	}
	s.unlock = unlock
	if err := s.becomeWriter(); err != nil {
		s.unlock = nil
		unlock()
		return err
	}
	return nil
}

// compactThreshold is the log size past which a commit compacts it.
func (s *Store) compactThreshold() int64 {
	return max(compactMinLog, s.snapSize/compactFraction)
}

// Refresh brings a read-only store up to date with what the writer (in
// another process) has committed since: the log's new records when the
// snapshot is unchanged, or the whole state again after a compaction.
// For the writer itself it does nothing. OpenShared stores refresh on
// their own before each read.
func (s *Store) Refresh() error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	return s.refreshLocked()
}

func (s *Store) refreshLocked() error {
	if !s.readOnly || s.closed {
		return nil
	}
	if !snapshotChanged(s.dir, s.snapInfo) {
		var size int64
		fi, err := os.Stat(filepath.Join(s.dir, walFile))
		if err == nil {
			size = fi.Size()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return storeError(fmt.Errorf("read write-ahead log: %w", err))
		}
		switch {
		case size == s.walSize:
			return nil // nothing new
		case size > s.walSize:
			err := s.readLog()
			if !errors.Is(err, errLogGap) {
				return err
			}
		}
		// A shorter log, or a gap in it: compacted under us.
	}
	return s.reload()
}

// reload reads the whole state again into a fresh store and swaps it in,
// so concurrent searches see either the old state or the new one.
func (s *Store) reload() error {
	fresh := &Store{dir: s.dir, cfg: s.cfg, embed: s.embed, readOnly: true, remote: s.remote}
	if err := fresh.loadConsistent(); err != nil {
		return err
	}
	s.mu.Lock()
	s.docs, s.seq, s.lex, s.vec = fresh.docs, fresh.seq, fresh.lex, fresh.vec
	s.mu.Unlock()
	s.walSize, s.snapInfo, s.snapSize = fresh.walSize, fresh.snapInfo, fresh.snapSize
	return nil
}

// follow catches a following store up before a read. Errors are left for
// the next write or Refresh to report: the read answers from the last
// state read.
func (s *Store) follow() {
	if s.following.Load() {
		s.Refresh()
	}
}

// Checkpoint writes a snapshot of everything committed and empties the log.
func (s *Store) Checkpoint() error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if s.readOnly || s.closed {
		return nil
	}
	return s.checkpointLocked()
}

func (s *Store) checkpointLocked() error {
	if s.walSize == 0 || s.broken != nil {
		return nil
	}
	s.mu.RLock()
	seq := s.seq
	docs := make([]*DocRecord, 0, len(s.docs))
	for _, d := range s.docs {
		docs = append(docs, d)
	}
	lex, vec := s.lex, s.vec
	s.mu.RUnlock()
	sort.Slice(docs, func(i, j int) bool { return docs[i].Path < docs[j].Path })
	// Commits wait on walMu, so the indexes cannot move past seq while
	// the snapshot streams out.
	path := filepath.Join(s.dir, snapshotFile)
	if err := index.SaveFile(path, func(w io.Writer) error {
		return writeSnapshot(w, seq, docs, lex, vec)
	}); err != nil {
		return storeError(fmt.Errorf("write snapshot: %w", err))
	}
	if fi, err := os.Stat(path); err == nil {
		s.snapInfo, s.snapSize = fi, fi.Size()
	}
	// The snapshot is durable (SaveFile synced the file and the
	// directory); the log's records are now redundant.
	if err := s.wal.Truncate(0); err != nil {
		return s.failedWrite(fmt.Errorf("truncate write-ahead log: %w", err))
	}
	if _, err := s.wal.Seek(0, io.SeekStart); err != nil {
		return s.failedWrite(err)
	}
	s.walSize = 0
	return s.wal.Sync()
}

// Close releases the directory, compacting the log first when it has
// grown past its threshold (a small log is left for the next open to
// replay: rewriting a large snapshot for it would cost more). Later
// writes fail with an error matching ErrClosed; reads still answer from
// memory.
func (s *Store) Close() error {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.following.Store(false)
	var err error
	if s.wal != nil {
		if s.walSize > s.compactThreshold() {
			err = s.checkpointLocked()
		}
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

// ReadOnly reports whether the store cannot take writes now (opened
// read-only, or following another process's writer).
func (s *Store) ReadOnly() bool {
	s.walMu.Lock()
	defer s.walMu.Unlock()
	return s.readOnly
}

// Doc returns the record of an ingested file.
func (s *Store) Doc(path string) (*DocRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.docs[path]
	return d, ok
}

// DocByHash returns a document whose content has the given SHA-256 (hex),
// the path sorting first when several do.
func (s *Store) DocByHash(hash string) (*DocRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *DocRecord
	for _, d := range s.docs {
		if d.Hash == hash && (best == nil || d.Path < best.Path) {
			best = d
		}
	}
	return best, best != nil
}

// Paths lists the ingested files, sorted.
func (s *Store) Paths() []string {
	s.follow()
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
	WALBytes     int64 // log bytes not yet compacted into the snapshot
	Seq          uint64
	Store        string // StoreEmbedded or StoreWeaviate (Config().Store says where)
}

// Stats returns counts and sizes.
func (s *Store) Stats() StoreStats {
	s.follow()
	s.walMu.Lock()
	walBytes := s.walSize
	s.walMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := StoreStats{Docs: len(s.docs), Seq: s.seq, WALBytes: walBytes, Store: StoreEmbedded}
	for _, d := range s.docs {
		st.Chunks += len(d.Chunks)
		for _, c := range d.Chunks {
			st.Chars += int64(c.CharEnd - c.CharStart)
		}
	}
	if s.remote != nil {
		st.Store = StoreWeaviate
		for _, d := range s.docs {
			st.Chunks += d.ChunkCount
			st.Chars += d.Chars
		}
		st.VectorDim = s.remote.Dim()
		if s.cfg.Embedding != nil {
			if st.VectorDim == 0 {
				st.VectorDim = s.cfg.Embedding.Dim
			}
			st.VectorIndex = "weaviate hnsw"
		}
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
	s.follow()
	if s.remote != nil {
		return s.searchRemote(ctx, q)
	}
	s.mu.RLock()
	lex, vec := s.lex, s.vec
	s.mu.RUnlock()
	r := &Retriever{Lexical: lex, Embed: s.embed, Fusion: q.Fusion, Rerank: q.Rerank}
	if vec != nil {
		r.Vectors = vec
	}
	if q.Mode != ModeBM25 && (vec == nil || s.embed == nil) {
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
		if c, ok := s.chunkLocked(h.ID); ok {
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
