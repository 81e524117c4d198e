package rag

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"ragtune/index"
)

// Snapshot format 2, streamed so that writing and reading one needs no
// copy of the knowledge base in memory (format 1 was one gob record
// holding everything, the indexes as byte blobs inside it: a checkpoint
// held the store about four times over, and the 4 GiB record limit capped
// a knowledge base near a million chunks):
//
//	"RAGTSNAP"
//	record  snapHeader (format, sequence number, document count, vector kind)
//	records the documents, a few hundred per record, without their vectors
//	        (the vector index holds them)
//	frame   the BM25 index (index.BM25.Save)
//	frame   the vector index, when VectorKind is set
//	record  snapEnd (the document count again: a file cut short fails)
//
// Records use the log's framing (length, CRC-32C, gob); the index frames
// carry their own checksums. Format 1 files (no magic) still load, and
// the next checkpoint rewrites them as format 2.
const (
	snapMagic        = "RAGTSNAP"
	snapFormat       = 2
	snapBatchDocs    = 256
	snapBatchChars   = 8 << 20
	snapNewerMessage = "the knowledge base was written by a newer ragtune; upgrade ragtune, or re-ingest the files into a new knowledge base"
)

type snapHeader struct {
	Format     int
	Seq        uint64
	Docs       int
	VectorKind string
}

type snapEnd struct{ Docs int }

// snapshotV1 is format 1: everything in one record.
type snapshotV1 struct {
	Seq        uint64
	Docs       []*DocRecord
	BM25       []byte
	VectorKind string
	Vectors    []byte
}

// loadedSnapshot is what a snapshot file holds.
type loadedSnapshot struct {
	seq  uint64
	docs []*DocRecord
	lex  *index.BM25
	vec  VectorIndex
}

// errNewerSnapshot marks a snapshot of a format this build does not know.
var errNewerSnapshot = errors.New("snapshot format is newer than this build")

// writeSnapshot streams docs (sorted by path) and the indexes to w.
func writeSnapshot(w io.Writer, seq uint64, docs []*DocRecord, lex *index.BM25, vec VectorIndex) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(snapMagic); err != nil {
		return err
	}
	hdr := snapHeader{Format: snapFormat, Seq: seq, Docs: len(docs)}
	if vec != nil {
		hdr.VectorKind = vectorKind(vec)
	}
	if err := writeRecord(bw, &hdr); err != nil {
		return err
	}
	for len(docs) > 0 {
		n, chars := 0, 0
		for n < len(docs) && n < snapBatchDocs && chars < snapBatchChars {
			for _, c := range docs[n].Chunks {
				chars += len(c.Text)
			}
			n++
		}
		batch := docs[:n]
		if err := writeRecord(bw, &batch); err != nil {
			return err
		}
		docs = docs[n:]
	}
	if err := lex.Save(bw); err != nil {
		return err
	}
	if vec != nil {
		if err := vec.Save(bw); err != nil {
			return err
		}
	}
	if err := writeRecord(bw, &snapEnd{Docs: hdr.Docs}); err != nil {
		return err
	}
	return bw.Flush()
}

func writeRecord(w io.Writer, v any) error {
	b, err := encodeRecord(v)
	if err != nil {
		return fmt.Errorf("encode snapshot record: %w", err)
	}
	_, err = w.Write(b)
	return err
}

func vectorKind(vec VectorIndex) string {
	if _, ok := vec.(*index.HNSW); ok {
		return "hnsw"
	}
	return "flat"
}

// readSnapshot reads the snapshot at path in either format, returning the
// file's identity as read (so a later rename over it is noticed).
func readSnapshot(path string, tok index.Tokenizer) (*loadedSnapshot, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	// A record's header may claim at most the file's size.
	limit := fi.Size() - 8
	var snap *loadedSnapshot
	if magic, _ := br.Peek(len(snapMagic)); string(magic) == snapMagic {
		br.Discard(len(snapMagic))
		snap, err = readSnapshotV2(br, limit, tok)
	} else {
		snap, err = readSnapshotV1(br, limit, tok)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return snap, fi, nil
}

func readSnapshotV2(br *bufio.Reader, limit int64, tok index.Tokenizer) (*loadedSnapshot, error) {
	var hdr snapHeader
	if _, err := readRecordLimit(br, &hdr, limit); err != nil {
		return nil, fmt.Errorf("snapshot header is corrupt: %w", err)
	}
	if hdr.Format > snapFormat {
		return nil, fmt.Errorf("%w: format %d, this build reads up to %d", errNewerSnapshot, hdr.Format, snapFormat)
	}
	snap := &loadedSnapshot{seq: hdr.Seq, docs: make([]*DocRecord, 0, min(hdr.Docs, 1<<20))}
	for len(snap.docs) < hdr.Docs {
		var batch []*DocRecord
		if _, err := readRecordLimit(br, &batch, limit); err != nil {
			return nil, fmt.Errorf("snapshot documents are corrupt after %d of %d: %w", len(snap.docs), hdr.Docs, err)
		}
		if len(batch) == 0 {
			return nil, fmt.Errorf("snapshot documents are corrupt after %d of %d: an empty batch", len(snap.docs), hdr.Docs)
		}
		for _, d := range batch {
			shareChunkStrings(d)
		}
		snap.docs = append(snap.docs, batch...)
	}
	var err error
	if snap.lex, err = index.LoadBM25(br, tok); err != nil {
		return nil, err
	}
	if snap.vec, err = loadVectorIndex(hdr.VectorKind, br); err != nil {
		return nil, err
	}
	shareIDs(snap)
	var end snapEnd
	if _, err := readRecordLimit(br, &end, limit); err != nil || end.Docs != hdr.Docs {
		return nil, fmt.Errorf("snapshot end record is missing or corrupt (%v)", err)
	}
	return snap, nil
}

func readSnapshotV1(br *bufio.Reader, limit int64, tok index.Tokenizer) (*loadedSnapshot, error) {
	var old snapshotV1
	if _, err := readRecordLimit(br, &old, limit); err != nil {
		return nil, fmt.Errorf("snapshot is corrupt: %w", err)
	}
	snap := &loadedSnapshot{seq: old.Seq, docs: old.Docs}
	var err error
	if snap.lex, err = index.LoadBM25(bufio.NewReader(bytes.NewReader(old.BM25)), tok); err != nil {
		return nil, err
	}
	old.BM25 = nil
	if snap.vec, err = loadVectorIndex(old.VectorKind, bufio.NewReader(bytes.NewReader(old.Vectors))); err != nil {
		return nil, err
	}
	for _, d := range snap.docs {
		d.Vectors = nil // the vector index holds them
		shareChunkStrings(d)
	}
	shareIDs(snap)
	return snap, nil
}

// shareIDs lets the flat index use the BM25 index's chunk ID strings.
func shareIDs(snap *loadedSnapshot) {
	if f, ok := snap.vec.(*index.Flat); ok {
		f.ShareIDs(snap.lex)
	}
}

func loadVectorIndex(kind string, br *bufio.Reader) (VectorIndex, error) {
	switch kind {
	case "":
		return nil, nil
	case "flat":
		return index.LoadFlat(br)
	case "hnsw":
		return index.LoadHNSW(br)
	}
	return nil, fmt.Errorf("unknown vector index kind %q", kind)
}
