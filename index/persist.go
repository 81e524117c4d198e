package index

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"ragtune/internal/atomicfile"
)

// On disk every index is one frame: "RAGTUNEI", a kind tag, then either
// (gob frames: HNSW, and the earlier BM25 and flat layouts) the payload
// length and its CRC-32C followed by the gob payload, or (streamed frames,
// stream.go) the payload followed by its length and CRC-32C. The checksum turns a torn
// or corrupted file into a clear error instead of a silently wrong index.
const fileMagic = "RAGTUNEI"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt reports an index file whose checksum or structure is wrong.
var ErrCorrupt = errors.New("index file is corrupt")

func writeChecked(w io.Writer, kind string, v any) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	var hdr [8 + 8 + 8 + 4]byte
	copy(hdr[:8], fileMagic)
	copy(hdr[8:16], kind)
	binary.LittleEndian.PutUint64(hdr[16:24], uint64(buf.Len()))
	binary.LittleEndian.PutUint32(hdr[24:28], crc32.Checksum(buf.Bytes(), castagnoli))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func readChecked(r io.Reader, kind string, v any) error {
	br := bufReader(r)
	got, err := readFrameKind(br)
	if err != nil {
		return err
	}
	if got != kind {
		return fmt.Errorf("%w: not a %s index file", ErrCorrupt, kind)
	}
	return readCheckedBody(br, v)
}

// readCheckedBody reads a gob frame's length, checksum and payload, after
// its header.
func readCheckedBody(r io.Reader, v any) error {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	n := binary.LittleEndian.Uint64(hdr[0:8])
	if n > 1<<40 {
		return fmt.Errorf("%w: payload length %d", ErrCorrupt, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrCorrupt, err)
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[8:12]) {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// SaveFile writes a file atomically through internal/atomicfile: a
// temporary file beside path, synced and renamed over it, so a crash
// leaves either the old file or the new one. It then syncs the directory,
// because callers (the knowledge base's checkpoint) discard other data
// once the new file is in place and the rename itself must survive a
// power cut.
func SaveFile(path string, save func(io.Writer) error) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := save(f); err != nil {
		atomicfile.Abort(f)
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := atomicfile.Commit(f, path); err != nil {
		atomicfile.Abort(f)
		return fmt.Errorf("save %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("save %s: sync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save %s: sync directory: %w", path, err)
	}
	return nil
}
