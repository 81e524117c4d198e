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
)

// On disk every index is one frame: "RAGTUNEI", a kind tag, the payload
// length and its CRC-32C, then the gob payload. The checksum turns a torn
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
	var hdr [28]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	var wantKind [8]byte
	copy(wantKind[:], kind)
	if string(hdr[:8]) != fileMagic || !bytes.Equal(hdr[8:16], wantKind[:]) {
		return fmt.Errorf("%w: not a %s index file", ErrCorrupt, kind)
	}
	n := binary.LittleEndian.Uint64(hdr[16:24])
	if n > 1<<40 {
		return fmt.Errorf("%w: payload length %d", ErrCorrupt, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return fmt.Errorf("%w: payload: %v", ErrCorrupt, err)
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[24:28]) {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// SaveFile writes an index to path atomically: a temporary file in the
// same directory, synced, then renamed over path, so a crash leaves either
// the old file or the new one.
func SaveFile(path string, save func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := save(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
