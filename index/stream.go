package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"unsafe"
)

// Streamed frames (the BM25 and flat formats since the compact layout):
// the same 16-byte header as a gob frame ("RAGTUNEI", kind), then the
// payload as it is produced, then a trailer holding the payload length
// and its CRC-32C. Writing needs no copy of the index in memory (a gob
// frame needs two: the encoder's buffer and the payload it hashes first),
// and reading builds the index as it goes, checking the checksum at the
// end, so a million-chunk index saves and loads in little more memory
// than it occupies.
//
// A reader given a *bufio.Reader consumes exactly the frame's bytes, so
// frames can follow one another, and other records, in one file.

// maxItemBytes bounds one string or byte run in a frame, so a corrupt
// length fails as corrupt instead of allocating without limit.
const maxItemBytes = 1 << 32

// frameWriter writes one streamed frame.
type frameWriter struct {
	w   *bufio.Writer
	crc uint32
	n   uint64
	err error
	buf [binary.MaxVarintLen64]byte
}

func newFrameWriter(w io.Writer, kind string) *frameWriter {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 1<<20)
	}
	var hdr [16]byte
	copy(hdr[:8], fileMagic)
	copy(hdr[8:], kind)
	fw := &frameWriter{w: bw}
	_, fw.err = bw.Write(hdr[:])
	return fw
}

func (fw *frameWriter) write(p []byte) {
	if fw.err != nil {
		return
	}
	fw.crc = crc32.Update(fw.crc, castagnoli, p)
	fw.n += uint64(len(p))
	_, fw.err = fw.w.Write(p)
}

func (fw *frameWriter) uvarint(v uint64) { fw.write(fw.buf[:binary.PutUvarint(fw.buf[:], v)]) }

func (fw *frameWriter) float64(v float64) {
	binary.LittleEndian.PutUint64(fw.buf[:8], math.Float64bits(v))
	fw.write(fw.buf[:8])
}

func (fw *frameWriter) bytes(p []byte) {
	fw.uvarint(uint64(len(p)))
	fw.write(p)
}

func (fw *frameWriter) string(s string) {
	fw.uvarint(uint64(len(s)))
	fw.write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// float32s writes v's raw little-endian bits, in pieces so no copy of a
// large slice is made.
func (fw *frameWriter) float32s(v []float32) {
	var tmp [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(tmp)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(tmp[4*i:], math.Float32bits(x))
		}
		fw.write(tmp[:4*n])
		v = v[n:]
	}
}

// finish writes the trailer and flushes.
func (fw *frameWriter) finish() error {
	if fw.err != nil {
		return fw.err
	}
	var tr [12]byte
	binary.LittleEndian.PutUint64(tr[:8], fw.n)
	binary.LittleEndian.PutUint32(tr[8:], fw.crc)
	if _, err := fw.w.Write(tr[:]); err != nil {
		return err
	}
	return fw.w.Flush()
}

// frameReader reads a streamed frame's payload; the first error sticks
// and every later read returns zero values.
type frameReader struct {
	r   *bufio.Reader
	crc uint32
	n   uint64
	err error
}

// bufReader returns r as a *bufio.Reader, wrapping it when it is not one.
func bufReader(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReaderSize(r, 1<<20)
}

// readFrameKind reads a frame's header and returns its kind.
func readFrameKind(r *bufio.Reader) (string, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if string(hdr[:8]) != fileMagic {
		return "", fmt.Errorf("%w: not an index file", ErrCorrupt)
	}
	kind := hdr[8:]
	for len(kind) > 0 && kind[len(kind)-1] == 0 {
		kind = kind[:len(kind)-1]
	}
	return string(kind), nil
}

func (fr *frameReader) fail(err error) {
	if fr.err == nil {
		fr.err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
}

func (fr *frameReader) read(p []byte) {
	if fr.err != nil {
		clear(p)
		return
	}
	if _, err := io.ReadFull(fr.r, p); err != nil {
		fr.fail(err)
		clear(p)
		return
	}
	fr.crc = crc32.Update(fr.crc, castagnoli, p)
	fr.n += uint64(len(p))
}

func (fr *frameReader) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		if fr.err != nil {
			return 0
		}
		c, err := fr.r.ReadByte()
		if err != nil {
			fr.fail(err)
			return 0
		}
		fr.crc = crc32.Update(fr.crc, castagnoli, []byte{c})
		fr.n++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	fr.fail(fmt.Errorf("varint overflows 64 bits"))
	return 0
}

// count reads a length, refusing one above limit.
func (fr *frameReader) count(limit uint64) int {
	v := fr.uvarint()
	if v > limit {
		fr.fail(fmt.Errorf("length %d exceeds %d", v, limit))
		return 0
	}
	return int(v)
}

func (fr *frameReader) float64() float64 {
	var b [8]byte
	fr.read(b[:])
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
}

func (fr *frameReader) bytes() []byte {
	n := fr.count(maxItemBytes)
	if fr.err != nil || n == 0 {
		return nil
	}
	// Grow as the bytes arrive, so a corrupt length fails at the end of
	// the file rather than allocating what it claims.
	p := make([]byte, min(n, 1<<20))
	fr.read(p)
	for len(p) < n && fr.err == nil {
		more := make([]byte, min(n-len(p), max(len(p), 1<<20)))
		fr.read(more)
		p = append(p, more...)
	}
	return p[:len(p):len(p)]
}

func (fr *frameReader) string() string { return string(fr.bytes()) }

// float32s reads n raw float32 values.
func (fr *frameReader) float32s(n int) []float32 {
	out := make([]float32, 0, min(n, 1<<22))
	var tmp [4096]byte
	for len(out) < n && fr.err == nil {
		k := min(n-len(out), len(tmp)/4)
		fr.read(tmp[:4*k])
		for i := range k {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(tmp[4*i:])))
		}
	}
	return out
}

// finish reads the trailer and checks the payload's length and checksum.
func (fr *frameReader) finish() error {
	if fr.err != nil {
		return fr.err
	}
	var tr [12]byte
	if _, err := io.ReadFull(fr.r, tr[:]); err != nil {
		return fmt.Errorf("%w: trailer: %v", ErrCorrupt, err)
	}
	if binary.LittleEndian.Uint64(tr[:8]) != fr.n || binary.LittleEndian.Uint32(tr[8:]) != fr.crc {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return nil
}

// metaTable interns metadata maps: the chunks of one document share one
// map (the same source and title), so an index stores a small number per
// entry instead of a map each. Number 0 is the nil map. Interned maps are
// copies, shared by every entry (and every Hit) with the same content:
// callers must not modify the Meta of a Hit.
type metaTable struct {
	maps  []map[string]string
	byKey map[string]uint32
}

// intern returns m's number, adding a copy of it when new. An empty map
// is the nil map (gob, which wrote the earlier formats, turns one into
// the other).
func (t *metaTable) intern(m map[string]string) uint32 {
	if len(m) == 0 {
		return 0
	}
	if t.maps == nil {
		t.maps = []map[string]string{nil}
		t.byKey = map[string]uint32{}
	}
	key := metaKey(m)
	if n, ok := t.byKey[key]; ok {
		return n
	}
	n := uint32(len(t.maps))
	cp := make(map[string]string, len(m))
	for k, v := range m {
		cp[k] = v
	}
	t.maps = append(t.maps, cp)
	t.byKey[key] = n
	return n
}

func (t *metaTable) get(n uint32) map[string]string {
	if n == 0 {
		return nil
	}
	return t.maps[n]
}

// metaKey is a canonical encoding of m: its pairs in key order, each
// string length-prefixed.
func metaKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	size := 0
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 8
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(m[k])))
		b = append(b, m[k]...)
	}
	return string(b)
}

// save writes the table (without the implied nil map).
func (t *metaTable) save(fw *frameWriter) {
	fw.uvarint(uint64(max(len(t.maps), 1) - 1))
	for _, m := range t.maps[min(1, len(t.maps)):] {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fw.uvarint(uint64(len(keys)))
		for _, k := range keys {
			fw.string(k)
			fw.string(m[k])
		}
	}
}

// loadMetaTable reads what save wrote; the maps keep their numbers.
func loadMetaTable(fr *frameReader) *metaTable {
	t := &metaTable{maps: []map[string]string{nil}, byKey: map[string]uint32{}}
	n := fr.count(math.MaxUint32 - 1)
	for i := 0; i < n && fr.err == nil; i++ {
		k := fr.count(1 << 20)
		m := make(map[string]string, min(k, 64))
		for j := 0; j < k && fr.err == nil; j++ {
			key := fr.string()
			m[key] = fr.string()
		}
		t.byKey[metaKey(m)] = uint32(len(t.maps))
		t.maps = append(t.maps, m)
	}
	return t
}
